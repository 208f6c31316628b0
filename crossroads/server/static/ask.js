/**
 * The Ask view: a question box; while the ask runs, the handoff graph lights up from the stream's
 * events (route, specialists, tool calls, handoffs), an event log grows and the answer streams in.
 * @module ask
 */

import { ApiError, streamAsk } from "./api.js";
import { el, fmtMs, replace } from "./dom.js";
import { GraphView } from "./graph.js";
import { scoreList } from "./scores.js";

/**
 * @typedef {object} AskContext
 * @property {import("./graph.js").GraphData} graph
 * @property {import("./graph.js").AgentInfo[]} agents
 */

/** The Ask view, bound to the elements of index.html. */
export class AskView {
  /** @param {AskContext} context */
  constructor(context) {
    this.form = /** @type {HTMLFormElement} */ (document.getElementById("ask-form"));
    this.question = /** @type {HTMLTextAreaElement} */ (document.getElementById("question"));
    this.agentSelect = /** @type {HTMLSelectElement} */ (document.getElementById("ask-agent"));
    this.button = /** @type {HTMLButtonElement} */ (document.getElementById("ask-button"));
    this.stop = /** @type {HTMLButtonElement} */ (document.getElementById("ask-stop"));
    this.status = /** @type {HTMLElement} */ (document.getElementById("ask-status"));
    this.routeInfo = /** @type {HTMLElement} */ (document.getElementById("route-info"));
    this.log = /** @type {HTMLOListElement} */ (document.getElementById("event-log"));
    this.answer = /** @type {HTMLElement} */ (document.getElementById("answer"));
    this.traceLink = /** @type {HTMLAnchorElement} */ (document.getElementById("answer-trace"));
    this.graph = new GraphView(
      /** @type {SVGSVGElement} */ (/** @type {unknown} */ (document.getElementById("graph-svg"))),
      context.graph,
      context.agents,
    );
    replace(
      this.agentSelect,
      el("option", { value: "" }, "route automatically"),
      ...context.agents.map((a) => el("option", { value: a.name }, `only ${a.name}`)),
    );
    /** @type {AbortController | null} */
    this.running = null;
    this.started = 0;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.ask();
    });
    this.question.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) this.form.requestSubmit();
    });
    this.stop.addEventListener("click", () => this.running?.abort());
  }

  /** Send the question in the box and follow its events until done or error. */
  async ask() {
    const question = this.question.value.trim();
    if (!question || this.running) return;
    this.running = new AbortController();
    this.started = performance.now();
    this.graph.reset();
    replace(this.log);
    replace(this.routeInfo);
    replace(this.answer);
    this.answer.classList.remove("error");
    this.traceLink.hidden = true;
    this.setStatus("asking…", "busy");
    this.button.disabled = true;
    this.stop.hidden = false;
    try {
      await streamAsk({ question, agent: this.agentSelect.value || null }, (e) => this.onEvent(e), this.running.signal);
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") this.setStatus("stopped", "error");
      else this.setStatus(error instanceof ApiError ? error.message : String(error), "error");
    } finally {
      this.running = null;
      this.button.disabled = false;
      this.stop.hidden = true;
    }
  }

  /**
   * @param {string} text
   * @param {"busy" | "ok" | "error"} kind
   */
  setStatus(text, kind) {
    this.status.textContent = text;
    this.status.className = `status ${kind}`;
  }

  /**
   * One line of the event log.
   * @param {string} kind the event type (a CSS class)
   * @param {...import("./dom.js").Child} parts
   */
  note(kind, ...parts) {
    const at = fmtMs(performance.now() - this.started);
    this.log.append(el("li", { class: `ev ev-${kind}` }, el("span", { class: "at" }, at), " ", ...parts));
    this.log.scrollTop = this.log.scrollHeight;
  }

  /**
   * Handle one stream event (crossroads/events.py).
   * @param {any} event
   */
  onEvent(event) {
    switch (event.type) {
      case "route":
        this.onRoute(event.decision);
        break;
      case "specialist_started":
        this.graph.started(event.agent);
        this.note("specialist", el("b", {}, event.agent), " started");
        break;
      case "tool_called":
        this.graph.toolCalled(event.agent);
        this.note("tool", el("b", {}, event.agent), " called ", el("code", {}, event.name));
        break;
      case "tool_returned": {
        const r = event.record;
        if (!r.ok) this.graph.toolFailed(r.agent);
        this.note("tool", el("code", {}, r.name), r.ok ? " returned" : " failed", ` in ${fmtMs(r.duration_ms)}`);
        break;
      }
      case "handoff": {
        const r = event.record;
        this.graph.handoff(r);
        const what = r.accepted ? " handed off to " : " was refused a handoff to ";
        this.note("handoff", el("b", {}, r.source), what, el("b", {}, r.target), r.note ? ` (${r.note})` : "");
        break;
      }
      case "model_request": {
        const r = event.record;
        const tokens = `${r.input_tokens}+${r.output_tokens} tokens`;
        this.note(
          "model",
          el("b", {}, r.agent),
          ` ${r.model}: ${tokens}, ${fmtMs(r.duration_ms)}`,
          r.error ? ` – ${r.error}` : "",
        );
        break;
      }
      case "specialist_finished":
        this.graph.finished(event.agent);
        this.note("specialist", el("b", {}, event.agent), " finished");
        break;
      case "synthesis_started":
        this.setStatus(`synthesising ${event.agents.join(", ")}…`, "busy");
        this.note("synthesis", "synthesis of ", event.agents.join(", "));
        break;
      case "text_delta":
        this.answer.append(event.delta);
        break;
      case "done":
        this.onDone(event.result);
        break;
      case "error":
        this.onError(event);
        break;
      default:
        break;
    }
  }

  /** @param {any} decision a RouteDecision */
  onRoute(decision) {
    const agents = decision.targets.map((/** @type {any} */ t) => t.agent);
    this.graph.routed(agents);
    const summary = decision.abstain ? "out of scope: no specialist" : agents.join(", ");
    this.note("route", "route: ", el("b", {}, summary), ` (${decision.stage}, ${fmtMs(decision.duration_ms)})`);
    replace(this.routeInfo, scoreList(decision));
  }

  /** @param {any} result the AskResult */
  onDone(result) {
    if (this.answer.textContent !== result.answer) this.answer.textContent = result.answer;
    this.graph.showResult(result);
    const u = result.usage;
    this.setStatus(
      `${result.status} in ${fmtMs(result.duration_ms)}: ${u.requests} model request(s), ` +
        `${u.input_tokens + u.output_tokens} tokens, path ${result.handoff_path.join(" → ")}`,
      result.status === "error" ? "error" : "ok",
    );
    this.showTraceLink(result.trace_id);
  }

  /** @param {any} event an error event */
  onError(event) {
    this.setStatus(`${event.kind}: ${event.message}`, "error");
    this.answer.classList.add("error");
    if (event.partial) this.showTraceLink(event.partial.trace_id);
  }

  /** @param {string} traceId */
  showTraceLink(traceId) {
    this.traceLink.href = `#/traces/${encodeURIComponent(traceId)}`;
    this.traceLink.hidden = false;
  }
}
