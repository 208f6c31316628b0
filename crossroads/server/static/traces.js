/**
 * The Traces views: the stored traces as a filtered list (status, agent, dates), and one trace in
 * detail (summary, the graph as it was lit, the waterfall).
 * @module traces
 */

import { ApiError, getJson } from "./api.js";
import { el, fmtMs, fmtTime, replace } from "./dom.js";
import { GraphView } from "./graph.js";
import { renderWaterfall } from "./waterfall.js";

/**
 * A local calendar date (`YYYY-MM-DD` from a date input) as an ISO instant: its midnight, or the next
 * day's midnight when `endOfDay` (the API's `until` is exclusive, the form's "to" date is inclusive).
 * @param {string} value
 * @param {boolean} endOfDay
 * @returns {string | null}
 */
export function dateParam(value, endOfDay) {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  const date = new Date(y, m - 1, d + (endOfDay ? 1 : 0));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The list of stored traces and its filter form. */
export class TraceList {
  /** @param {import("./graph.js").AgentInfo[]} agents */
  constructor(agents) {
    this.form = /** @type {HTMLFormElement} */ (document.getElementById("trace-filters"));
    this.body = /** @type {HTMLElement} */ (document.querySelector("#trace-list tbody"));
    this.status = /** @type {HTMLElement} */ (document.getElementById("traces-status"));
    const agentSelect = /** @type {HTMLSelectElement} */ (this.form.elements.namedItem("agent"));
    replace(
      agentSelect,
      el("option", { value: "" }, "any agent"),
      ...agents.map((a) => el("option", { value: a.name }, a.name)),
    );
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.load();
    });
    this.form.addEventListener("change", () => void this.load());
    this.loading = 0;
  }

  /** The filters as query parameters of `GET /v1/traces`. */
  params() {
    const data = new FormData(this.form);
    const text = (/** @type {string} */ name) => String(data.get(name) ?? "");
    return {
      last: text("last") || "50",
      status: text("status"),
      agent: text("agent"),
      since: dateParam(text("since"), false),
      until: dateParam(text("until"), true),
    };
  }

  /** Fetch and show the traces that match the filters. */
  async load() {
    const ticket = ++this.loading;
    this.status.textContent = "loading…";
    this.status.className = "status busy";
    let traces;
    try {
      traces = await getJson("/v1/traces", this.params());
    } catch (error) {
      if (ticket !== this.loading) return;
      this.status.textContent = error instanceof ApiError ? error.message : String(error);
      this.status.className = "status error";
      replace(this.body);
      return;
    }
    if (ticket !== this.loading) return; // a newer load is on its way
    this.status.textContent = traces.length ? `${traces.length} trace(s), newest first` : "no trace matches";
    this.status.className = "status ok";
    replace(this.body, ...traces.map(traceRow));
  }
}

/**
 * One row of the list; the question links to the trace.
 * @param {any} t a TraceSummary
 * @returns {HTMLElement}
 */
function traceRow(t) {
  const href = `#/traces/${encodeURIComponent(t.trace_id)}`;
  return el(
    "tr",
    { dataset: { traceId: t.trace_id, status: t.status } },
    el("td", { class: "nowrap" }, fmtTime(t.started_at)),
    el("td", {}, el("span", { class: `tag status-${t.status}` }, t.status)),
    el("td", {}, t.route.join(", ") || "–"),
    el("td", { class: "question" }, el("a", { href, title: t.question }, t.question)),
    el("td", { class: "num" }, fmtMs(t.duration_ms)),
    el("td", { class: "num" }, String(t.input_tokens + t.output_tokens)),
  );
}

/** One trace in detail. */
export class TraceDetail {
  /**
   * @param {import("./graph.js").GraphData} graph
   * @param {import("./graph.js").AgentInfo[]} agents
   */
  constructor(graph, agents) {
    this.root = /** @type {HTMLElement} */ (document.getElementById("trace-detail"));
    this.graphData = graph;
    this.agents = agents;
  }

  /** @param {string} traceId */
  async show(traceId) {
    replace(this.root, el("p", { class: "status busy" }, "loading…"));
    let result;
    try {
      result = await getJson(`/v1/traces/${encodeURIComponent(traceId)}`);
    } catch (error) {
      replace(this.root, el("p", { class: "status error" }, error instanceof ApiError ? error.message : String(error)));
      return;
    }
    const svgRoot = /** @type {SVGSVGElement} */ (
      /** @type {unknown} */ (document.createElementNS("http://www.w3.org/2000/svg", "svg"))
    );
    svgRoot.setAttribute("class", "graph small");
    const view = new GraphView(svgRoot, this.graphData, this.agents);
    view.showResult(result);
    const u = result.usage;
    replace(
      this.root,
      el("h2", { class: "trace-question" }, result.question),
      el(
        "div",
        { class: "trace-head" },
        el(
          "dl",
          { class: "facts" },
          el("dt", {}, "status"),
          el("dd", {}, el("span", { class: `tag status-${result.status}` }, result.status)),
          el("dt", {}, "trace"),
          el("dd", {}, el("code", {}, result.trace_id)),
          el("dt", {}, "started"),
          el("dd", {}, fmtTime(result.started_at)),
          el("dt", {}, "duration"),
          el("dd", {}, fmtMs(result.duration_ms)),
          el("dt", {}, "usage"),
          el("dd", {}, `${u.requests} request(s), ${u.input_tokens} in + ${u.output_tokens} out tokens`),
          el("dt", {}, "path"),
          el("dd", {}, result.handoff_path.join(" → ")),
          ...(result.error ? [el("dt", {}, "error"), el("dd", { class: "error" }, result.error)] : []),
        ),
        svgRoot,
      ),
      el("h3", {}, "Waterfall"),
      renderWaterfall(result),
      el(
        "details",
        { class: "final-answer", open: true },
        el("summary", {}, "Answer"),
        el("pre", { class: "literal answer-text" }, result.answer),
      ),
    );
  }
}
