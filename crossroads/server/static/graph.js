/**
 * The handoff graph as SVG, drawn from `GET /v1/graph`, and lit up by the events of an ask.
 *
 * Layout: the router in the centre, the specialists on a circle around it. Routing edges are spokes;
 * handoff edges are curves between specialists (each direction bends to its own side). Lit edges are
 * dashed and flow from source to target.
 * @module graph
 */

import { svg, replace } from "./dom.js";

const WIDTH = 600;
const HEIGHT = 440;
const RADIUS = 165;
const NODE_W = 118;
const NODE_H = 42;
const BEND = 22;

/**
 * @typedef {{from: string, to: string, reason?: string}} GraphEdge
 * @typedef {{nodes: string[], edges: GraphEdge[]}} GraphData
 * @typedef {{name: string, title?: string, description?: string}} AgentInfo
 */

/** The node states a run can give a specialist; each is a CSS class on its `<g class="node">`. */
export const NODE_STATES = ["routed", "running", "finished", "handed", "tooled", "failed"];

/** One drawn graph; `reset()` clears the highlights of the previous ask. */
export class GraphView {
  /**
   * @param {SVGSVGElement} root the `<svg>` to draw into (emptied first)
   * @param {GraphData} graph
   * @param {AgentInfo[]} [agents] titles and descriptions for the tooltips
   */
  constructor(root, graph, agents = []) {
    this.root = root;
    /** @type {Map<string, {x: number, y: number}>} */
    this.positions = new Map();
    /** @type {Map<string, SVGGElement>} */
    this.nodes = new Map();
    /** @type {Map<string, SVGElement>} */
    this.edges = new Map();
    /** @type {Map<string, number>} */
    this.toolCounts = new Map();
    this.draw(graph, new Map(agents.map((a) => [a.name, a])));
  }

  /**
   * @param {GraphData} graph
   * @param {Map<string, AgentInfo>} info
   */
  draw(graph, info) {
    const cx = WIDTH / 2;
    const cy = HEIGHT / 2;
    const specialists = graph.nodes.filter((n) => n !== "router");
    this.positions.set("router", { x: cx, y: cy });
    specialists.forEach((name, i) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, specialists.length);
      this.positions.set(name, { x: cx + RADIUS * Math.cos(angle), y: cy + RADIUS * Math.sin(angle) });
    });
    this.root.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    this.root.setAttribute("role", "img");
    this.root.setAttribute("aria-label", "handoff graph");
    const edgeLayer = svg("g", { class: "edges" });
    const nodeLayer = svg("g", { class: "nodes" });
    for (const edge of graph.edges) {
      const path = this.edgePath(edge);
      if (!path) continue;
      const kind = edge.from === "router" ? "route" : "handoff";
      const line = svg(
        "path",
        { class: `edge ${kind}`, d: path, dataset: { from: edge.from, to: edge.to } },
        svg("title", {}, `${edge.from} → ${edge.to}${edge.reason ? `: ${edge.reason}` : ""}`),
      );
      this.edges.set(`${edge.from}>${edge.to}`, line);
      edgeLayer.append(line);
    }
    for (const [name, pos] of this.positions) {
      const about = info.get(name);
      const words = name.split("-");
      const group = /** @type {SVGGElement} */ (
        svg(
          "g",
          {
            class: name === "router" ? "node router" : "node",
            transform: `translate(${pos.x.toFixed(1)} ${pos.y.toFixed(1)})`,
            dataset: { agent: name },
          },
          svg("title", {}, about ? `${about.title ?? name}: ${about.description ?? ""}` : name),
          svg("rect", { x: -NODE_W / 2, y: -NODE_H / 2, width: NODE_W, height: NODE_H, rx: NODE_H / 2 }),
          ...words.map((word, i) =>
            svg("text", { class: "label", y: (i - (words.length - 1) / 2) * 14 + 4, "text-anchor": "middle" }, word),
          ),
          svg("text", { class: "badge", x: NODE_W / 2 - 6, y: -NODE_H / 2 - 2, "text-anchor": "end" }),
        )
      );
      this.nodes.set(name, group);
      nodeLayer.append(group);
    }
    replace(this.root, edgeLayer, nodeLayer);
  }

  /**
   * SVG path data of one edge: straight for routing, bent for handoffs.
   * @param {GraphEdge} edge
   * @returns {string | null}
   */
  edgePath(edge) {
    const a = this.positions.get(edge.from);
    const b = this.positions.get(edge.to);
    if (!a || !b) return null;
    if (edge.from === "router") return `M ${a.x} ${a.y} L ${b.x} ${b.y}`;
    const mx = (a.x + b.x) / 2;
    const my = (a.y + b.y) / 2;
    const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
    const qx = mx + (-(b.y - a.y) / len) * BEND;
    const qy = my + ((b.x - a.x) / len) * BEND;
    return `M ${a.x} ${a.y} Q ${qx.toFixed(1)} ${qy.toFixed(1)} ${b.x} ${b.y}`;
  }

  /** Clear every highlight. */
  reset() {
    for (const node of this.nodes.values()) {
      node.classList.remove("active", ...NODE_STATES);
      const badge = node.querySelector(".badge");
      if (badge) badge.textContent = "";
    }
    for (const edge of this.edges.values()) edge.classList.remove("lit", "refused");
    this.toolCounts.clear();
  }

  /**
   * Add a state class to a node.
   * @param {string} agent
   * @param {string} state one of {@link NODE_STATES}
   */
  mark(agent, state) {
    this.nodes.get(agent)?.classList.add(state);
  }

  /**
   * The router decided: light it, its chosen specialists and the spokes to them.
   * @param {string[]} agents
   */
  routed(agents) {
    this.nodes.get("router")?.classList.add("active");
    for (const agent of agents) {
      this.mark(agent, "routed");
      this.edges.get(`router>${agent}`)?.classList.add("lit");
    }
  }

  /** @param {string} agent a specialist started */
  started(agent) {
    this.nodes.get(agent)?.classList.remove("finished");
    this.mark(agent, "running");
  }

  /** @param {string} agent a specialist finished */
  finished(agent) {
    this.nodes.get(agent)?.classList.remove("running");
    this.mark(agent, "finished");
  }

  /**
   * A specialist called a tool: count it on the node's badge.
   * @param {string} agent
   */
  toolCalled(agent) {
    const count = (this.toolCounts.get(agent) ?? 0) + 1;
    this.toolCounts.set(agent, count);
    this.mark(agent, "tooled");
    const badge = this.nodes.get(agent)?.querySelector(".badge");
    if (badge) badge.textContent = `⚙ ${count}`;
  }

  /**
   * A tool call failed.
   * @param {string} agent
   */
  toolFailed(agent) {
    this.mark(agent, "failed");
  }

  /**
   * A handoff: light the edge (or mark it refused) and the target.
   * @param {{source: string, target: string, accepted: boolean}} record
   */
  handoff(record) {
    const edge = this.edges.get(`${record.source}>${record.target}`);
    edge?.classList.add(record.accepted ? "lit" : "refused");
    if (record.accepted) {
      this.mark(record.target, "handed");
      this.mark(record.target, "running");
    }
  }

  /**
   * Highlight a whole finished ask at once (for a stored trace).
   * @param {any} result an AskResult
   */
  showResult(result) {
    this.reset();
    this.routed((result.route?.targets ?? []).map((/** @type {any} */ t) => t.agent));
    for (const record of result.handoffs ?? []) this.handoff(record);
    for (const call of result.tool_calls ?? []) {
      this.toolCalled(call.agent);
      if (!call.ok) this.toolFailed(call.agent);
    }
    for (const answer of result.specialists ?? []) {
      for (const agent of (answer.path ?? []).slice(1)) this.finished(agent);
    }
  }
}
