/**
 * One stored trace (an AskResult) as a waterfall: the route with its scores and deciding tier, each
 * routed specialist's branch (model requests, tool calls, handoffs) side by side in time, and the
 * synthesis. Every row is a `<details>`: open it for inputs and outputs.
 *
 * Records carry `started_ms` (ms after the ask started); traces recorded before that field existed are
 * laid out one record after another, each branch starting when the route finished.
 * @module waterfall
 */

import { el, fmtMs, fmtValue } from "./dom.js";
import { scoreList } from "./scores.js";

/**
 * @typedef {object} Span
 * @property {string} kind route | specialist | model | tool | handoff | synthesis
 * @property {string} agent
 * @property {number} start ms after the ask started
 * @property {number} duration ms
 * @property {any} record the record behind the row
 */

/**
 * Start offsets for records of one group: their own `started_ms`, else one after another from `from`.
 * @param {any[]} records with `duration_ms` and maybe `started_ms`
 * @param {number} from
 * @returns {number[]}
 */
function starts(records, from) {
  let cursor = from;
  return records.map((r) => {
    if (typeof r.started_ms === "number") return r.started_ms;
    const at = cursor;
    cursor += r.duration_ms ?? 0;
    return at;
  });
}

/**
 * The rows of one group of agents (a branch, or the synthesizer), in time order.
 * @param {any} result
 * @param {Set<string>} agents
 * @param {number} from where sequential layout starts
 * @returns {Span[]}
 */
function groupSpans(result, agents, from) {
  /** @type {(records: any[] | undefined, kind: string, by: string) => {kind: string, record: any}[]} */
  const pick = (records, kind, by) =>
    (records ?? []).filter((r) => agents.has(r[by])).map((record) => ({ kind, record }));
  const items = [
    ...pick(result.model_requests, "model", "agent"),
    ...pick(result.tool_calls, "tool", "agent"),
    ...pick(result.handoffs, "handoff", "source"),
  ];
  const offsets = starts(
    items.map((i) => i.record),
    from,
  );
  return items
    .map((item, i) => ({
      kind: item.kind,
      agent: item.record.agent ?? item.record.source,
      start: offsets[i],
      duration: item.record.duration_ms ?? 0,
      record: item.record,
    }))
    .sort((a, b) => a.start - b.start);
}

/**
 * A span covering some rows (a specialist's branch, the synthesis).
 * @param {Span[]} spans
 * @param {number} fallback start when there are no rows
 * @returns {{start: number, duration: number}}
 */
function cover(spans, fallback) {
  if (!spans.length) return { start: fallback, duration: 0 };
  const start = Math.min(...spans.map((s) => s.start));
  const end = Math.max(...spans.map((s) => s.start + s.duration));
  return { start, duration: end - start };
}

/**
 * Label / key-value rows for a details body.
 * @param {[string, import("./dom.js").Child][]} pairs
 * @returns {HTMLElement}
 */
function facts(pairs) {
  const dl = el("dl", { class: "facts" });
  for (const [name, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", {}, name), el("dd", {}, value));
  }
  return dl;
}

/**
 * A value shown literally: multi-line strings and objects in a `<pre>`.
 * @param {unknown} value
 * @returns {HTMLElement}
 */
function literal(value) {
  const text = fmtValue(value);
  return text.includes("\n") || typeof value === "object"
    ? el("pre", { class: "literal" }, text)
    : el("code", { class: "literal" }, text);
}

/**
 * A tool result's headline: the math verdict, or the snippet's exit status.
 * @param {any} call a ToolCallRecord
 * @returns {string}
 */
export function toolVerdict(call) {
  const r = call.result;
  if (r && typeof r === "object") {
    if ("verified" in r) return r.verified === true ? "verified" : r.verified === false ? "refuted" : "undecided";
    if (r.error) return "error";
    if ("exit_code" in r) return `exit ${r.exit_code}`;
    if ("row_count" in r) return `${r.row_count} row(s)`;
  }
  return call.ok ? "ok" : "failed";
}

/**
 * The body of an opened row.
 * @param {Span} span
 * @param {any} result
 * @returns {HTMLElement}
 */
function body(span, result) {
  const r = span.record;
  switch (span.kind) {
    case "route":
      return el(
        "div",
        {},
        scoreList(r),
        facts([
          ["abstained", r.abstain ? "yes" : null],
          ...r.targets.map(
            (/** @type {any} */ t) => /** @type {[string, any]} */ ([`${t.agent} asked`, literal(t.sub_question)]),
          ),
        ]),
      );
    case "specialist":
      return el(
        "div",
        {},
        facts([
          ["question", literal(r.question)],
          ["path", (r.path ?? []).join(" → ")],
          ["error", r.error],
        ]),
        el("pre", { class: "literal answer-text" }, r.answer ?? ""),
      );
    case "model":
      return facts([
        ["model", r.model],
        ["tokens", `${r.input_tokens} in, ${r.output_tokens} out`],
        [
          "cache",
          r.cache_read_tokens || r.cache_write_tokens
            ? `${r.cache_read_tokens} read, ${r.cache_write_tokens} written`
            : null,
        ],
        ["duration", fmtMs(r.duration_ms)],
        ["failed attempts", r.attempts?.length ? literal(r.attempts) : null],
        ["error", r.error],
      ]);
    case "tool":
      return el(
        "div",
        {},
        facts([
          ["verdict", toolVerdict(r)],
          ["duration", fmtMs(r.duration_ms)],
        ]),
        el("h4", {}, "input"),
        ...Object.entries(r.arguments ?? {}).map(([k, v]) => facts([[k, literal(v)]])),
        el("h4", {}, "output"),
        r.result && typeof r.result === "object" && !Array.isArray(r.result)
          ? facts(
              Object.entries(r.result)
                .filter(([, v]) => v !== null && v !== "" && !(Array.isArray(v) && !v.length))
                .map(([k, v]) => [k, literal(v)]),
            )
          : literal(r.result),
      );
    case "handoff":
      return facts([
        ["from", r.source],
        ["to", r.target],
        ["hop", r.hop],
        ["reason", r.reason],
        ["accepted", r.accepted ? "yes" : "no"],
        ["refused because", r.note],
      ]);
    case "synthesis":
      return el("pre", { class: "literal answer-text" }, result.answer ?? "");
    default:
      return el("div");
  }
}

/**
 * The summary line of a row.
 * @param {Span} span
 * @returns {import("./dom.js").Child[]}
 */
function label(span) {
  const r = span.record;
  switch (span.kind) {
    case "route":
      return [
        "route ",
        el("span", { class: "tag" }, r.stage),
        " → ",
        r.abstain ? "abstained" : r.targets.map((/** @type {any} */ t) => t.agent).join(", "),
      ];
    case "specialist":
      return ["specialist ", el("b", {}, r.agent), r.path?.length > 2 ? ` (→ ${r.path.slice(2).join(" → ")})` : ""];
    case "model":
      return [
        "model ",
        el("span", { class: "muted" }, r.agent),
        ` ${r.model} · ${r.input_tokens}+${r.output_tokens} tok`,
      ];
    case "tool":
      return [
        "tool ",
        el("code", {}, r.name),
        " ",
        el("span", { class: `tag ${r.ok ? "ok" : "bad"}` }, toolVerdict(r)),
      ];
    case "handoff":
      return ["handoff ", el("b", {}, r.source), r.accepted ? " → " : " ⇸ ", el("b", {}, r.target)];
    case "synthesis":
      return ["synthesis"];
    default:
      return [span.kind];
  }
}

/**
 * Every row of the waterfall, in display order, with its nesting depth.
 * @param {any} result
 * @returns {{span: Span, depth: number}[]}
 */
export function layout(result) {
  const route = result.route;
  const routeEnd = route.duration_ms ?? 0;
  /** @type {{span: Span, depth: number}[]} */
  const rows = [{ span: { kind: "route", agent: "router", start: 0, duration: routeEnd, record: route }, depth: 0 }];
  const placed = new Set();
  for (const span of groupSpans(result, new Set(["router"]), 0)) rows.push({ span, depth: 1 });
  placed.add("router");
  let branchesEnd = routeEnd;
  for (const answer of result.specialists ?? []) {
    const agents = new Set((answer.path ?? []).slice(1));
    agents.add(answer.agent);
    const spans = groupSpans(result, agents, routeEnd);
    const whole = cover(spans, routeEnd);
    branchesEnd = Math.max(branchesEnd, whole.start + whole.duration);
    rows.push({ span: { kind: "specialist", agent: answer.agent, ...whole, record: answer }, depth: 0 });
    for (const span of spans) rows.push({ span, depth: 1 });
    for (const agent of agents) placed.add(agent);
  }
  const synthesis = groupSpans(result, new Set(["synthesizer"]), branchesEnd);
  placed.add("synthesizer");
  if (synthesis.length || (result.specialists ?? []).length > 1) {
    const whole = cover(synthesis, branchesEnd);
    rows.push({ span: { kind: "synthesis", agent: "synthesizer", ...whole, record: null }, depth: 0 });
    for (const span of synthesis) rows.push({ span, depth: 1 });
  }
  const others = new Set(
    [...(result.model_requests ?? []), ...(result.tool_calls ?? [])].map((r) => r.agent).filter((a) => !placed.has(a)),
  );
  if (others.size) for (const span of groupSpans(result, others, branchesEnd)) rows.push({ span, depth: 0 });
  return rows;
}

/**
 * The waterfall of one trace.
 * @param {any} result an AskResult
 * @returns {HTMLElement}
 */
export function renderWaterfall(result) {
  const rows = layout(result);
  const total = Math.max(result.duration_ms ?? 0, ...rows.map((r) => r.span.start + r.span.duration), 1);
  const container = el(
    "div",
    { class: "waterfall" },
    el(
      "div",
      { class: "wf-scale" },
      el("span", {}, "0"),
      el("span", {}, fmtMs(total / 2)),
      el("span", {}, fmtMs(total)),
    ),
  );
  for (const { span, depth } of rows) {
    const bar = el("span", { class: `bar bar-${span.kind}` });
    bar.style.left = `${(span.start / total) * 100}%`;
    bar.style.width = `${Math.max(0.3, (span.duration / total) * 100)}%`;
    const row = el(
      "details",
      { class: `wf-row kind-${span.kind} depth-${depth}`, dataset: { kind: span.kind, agent: span.agent } },
      el(
        "summary",
        {},
        el("span", { class: "wf-label" }, ...label(span)),
        el("span", { class: "wf-track" }, bar),
        el("span", { class: "wf-dur" }, span.kind === "handoff" ? `@ ${fmtMs(span.start)}` : fmtMs(span.duration)),
      ),
      el("div", { class: "wf-body" }, body(span, result)),
    );
    container.append(row);
  }
  return container;
}
