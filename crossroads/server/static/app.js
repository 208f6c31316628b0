/**
 * The page's entry point: finds out whether the server wants a key, loads the specialists and the
 * graph, and switches between the views by the URL's hash (`#/ask`, `#/traces`, `#/traces/<id>`).
 * @module app
 */

import { ApiError, auth, getJson, hasKey, setKey } from "./api.js";
import { AskView } from "./ask.js";
import { TraceDetail, TraceList } from "./traces.js";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {{ask: AskView, list: TraceList, detail: TraceDetail} | null} */
let views = null;

/**
 * Show the key form, with why it is shown.
 * @param {string} message
 */
function askForKey(message) {
  $("key-panel").hidden = false;
  $("key-message").textContent = message;
  $("main").hidden = true;
  /** @type {HTMLInputElement} */ ($("key-input")).focus();
}

/** Show or hide "forget key" by whether a key is in use. */
function showKeyState() {
  $("key-state").hidden = !hasKey();
}

/**
 * Show a failure the page cannot recover from by itself (server unreachable, a bug).
 * @param {unknown} error
 */
function fatal(error) {
  const box = $("fatal");
  box.hidden = false;
  box.textContent = error instanceof ApiError ? error.message : String(error);
}

/** Show the view the hash names. */
function route() {
  if (!views) return;
  const hash = location.hash || "#/ask";
  const detail = hash.match(/^#\/traces\/(.+)$/);
  const name = detail ? "trace" : hash.startsWith("#/traces") ? "traces" : "ask";
  for (const view of ["ask", "traces", "trace"]) $(`view-${view}`).hidden = view !== name;
  $("nav-ask").classList.toggle("current", name === "ask");
  $("nav-traces").classList.toggle("current", name !== "ask");
  if (name === "traces") void views.list.load();
  if (detail) void views.detail.show(decodeURIComponent(detail[1]));
}

/** Load what the views need (this is also the key check: `/v1/agents` answers 401 without one). */
async function start() {
  let agents;
  let graph;
  try {
    agents = await getJson("/v1/agents");
    graph = await getJson("/v1/graph");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // auth-needed shows the key form
    fatal(error);
    return;
  }
  $("key-panel").hidden = true;
  $("main").hidden = false;
  showKeyState();
  if (!views) {
    views = {
      ask: new AskView({ graph, agents }),
      list: new TraceList(agents),
      detail: new TraceDetail(graph, agents),
    };
    window.addEventListener("hashchange", route);
  }
  route();
}

auth.addEventListener("auth-needed", () => {
  const refused = hasKey();
  setKey("");
  showKeyState();
  askForKey(refused ? "The server refused that key. Try another one." : "This server needs an API key.");
});

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($("key-input"));
  setKey(input.value);
  input.value = "";
  void start();
});

$("forget-key").addEventListener("click", () => {
  setKey("");
  location.reload();
});

void start();
