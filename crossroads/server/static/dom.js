/**
 * DOM helpers. Every piece of text (questions, answers, tool output, agent names) goes into the page
 * through `textContent` or a Text node, never as HTML: this module has no way to parse markup.
 * @module dom
 */

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * A child of {@link el}: strings and numbers become Text nodes; null, undefined and false are skipped.
 */

/**
 * Append children to a node (strings as Text nodes).
 * @param {Node} node
 * @param {Child[]} children
 * @returns {Node} the node
 */
export function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/**
 * Set attributes and properties. `class` and `text` are shortcuts; `on*` functions become listeners;
 * `dataset` is an object of data-* values. Attribute names must come from code, never from data.
 * @param {Element} node
 * @param {Record<string, unknown>} props
 */
function applyProps(node, props) {
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.setAttribute("class", String(value));
    else if (name === "text") node.textContent = String(value);
    else if (name === "dataset") Object.assign(/** @type {HTMLElement} */ (node).dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
}

/**
 * Create an HTML element: `el("a", {href: "#/x", class: "link"}, "text", child)`.
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  applyProps(node, props);
  append(node, children);
  return node;
}

/**
 * Create an SVG element, like {@link el}.
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...Child} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, ...children) {
  const node = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  applyProps(node, attrs);
  append(node, children);
  return node;
}

/**
 * Remove every child of a node, then append new ones.
 * @param {Node} node
 * @param {...Child} children
 */
export function replace(node, ...children) {
  while (node.firstChild) node.removeChild(node.firstChild);
  append(node, children);
}

/**
 * A duration for people: "0.4 ms", "12 ms", "1.52 s".
 * @param {number | null | undefined} ms
 * @returns {string}
 */
export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * A value as readable text: strings as they are, everything else as indented JSON.
 * @param {unknown} value
 * @returns {string}
 */
export function fmtValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/**
 * A time stamp in the reader's locale.
 * @param {string} iso
 * @returns {string}
 */
export function fmtTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}
