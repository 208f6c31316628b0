/**
 * The router's decision as the page shows it (live on the Ask view and in a trace's route row).
 * @module scores
 */

import { el } from "./dom.js";

/**
 * The router's scores as a bar list: chosen specialists first and marked, the deciding tier on top.
 * @param {any} decision a RouteDecision
 * @returns {HTMLElement}
 */
export function scoreList(decision) {
  const chosen = new Set(decision.targets.map((/** @type {any} */ t) => t.agent));
  const scores = Object.entries(decision.scores ?? {}).sort((a, b) => b[1] - a[1]);
  const list = el("ul", { class: "scores" });
  for (const [agent, score] of scores) {
    const bar = el("span", { class: "fill" });
    bar.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
    list.append(
      el(
        "li",
        { class: chosen.has(agent) ? "chosen" : "", dataset: { agent } },
        el("span", { class: "name" }, agent),
        el("span", { class: "meter" }, bar),
        el("span", { class: "num" }, score.toFixed(2)),
      ),
    );
  }
  return el(
    "div",
    { class: "route-box" },
    el(
      "p",
      {},
      "decided by ",
      el("b", { class: "stage" }, decision.stage),
      decision.reason ? `: ${decision.reason}` : "",
    ),
    list,
  );
}
