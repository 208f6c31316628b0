/**
 * The crossroads API as the page uses it, and the API key.
 *
 * The key lives in a module variable and in this tab's sessionStorage (so a reload keeps it); never in
 * localStorage or a cookie, so it goes away with the tab. A 401 from any call fires `auth-needed` on
 * {@link auth}, which the page answers by asking for a key.
 * @module api
 */

import { readSse } from "./sse.js";

const KEY_ITEM = "crossroads.apiKey";

/** @type {string} */
let apiKey = sessionStorage.getItem(KEY_ITEM) ?? "";

/** Fires `auth-needed` (a CustomEvent whose detail is the server's message) on every 401. */
export const auth = new EventTarget();

/** @returns {boolean} whether the user gave a key in this tab */
export function hasKey() {
  return apiKey !== "";
}

/**
 * Use this key for every request from now on ("" forgets it).
 * @param {string} key
 */
export function setKey(key) {
  apiKey = key.trim();
  if (apiKey) sessionStorage.setItem(KEY_ITEM, apiKey);
  else sessionStorage.removeItem(KEY_ITEM);
}

/** An error response of the API (`{"error": {"message", "type", "param", "code"}}`). */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} message the server's message
   * @param {string | null} [code] the error code, e.g. `invalid_api_key`
   */
  constructor(status, message, code = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/**
 * Headers for a request: the key, if any, as a bearer token.
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
function headers(extra = {}) {
  return apiKey ? { ...extra, Authorization: `Bearer ${apiKey}` } : { ...extra };
}

/**
 * Fetch, turning network failures and error statuses into {@link ApiError}.
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function request(path, init = {}) {
  let response;
  try {
    response = await fetch(path, { ...init, headers: headers(/** @type {Record<string,string>} */ (init.headers)) });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, `the server could not be reached (${error})`);
  }
  if (response.ok) return response;
  let message = `${response.status} ${response.statusText}`;
  let code = null;
  try {
    const body = await response.json();
    message = body?.error?.message ?? message;
    code = body?.error?.code ?? null;
  } catch {
    // not JSON: keep the status line
  }
  if (response.status === 401) auth.dispatchEvent(new CustomEvent("auth-needed", { detail: message }));
  throw new ApiError(response.status, message, code);
}

/**
 * GET a JSON resource.
 * @param {string} path e.g. `/v1/agents`
 * @param {Record<string, string | number | null | undefined>} [params] query parameters (empty ones are left out)
 * @returns {Promise<any>}
 */
export async function getJson(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
  }
  const qs = query.toString();
  const response = await request(qs ? `${path}?${qs}` : path, { headers: { Accept: "application/json" } });
  return response.json();
}

/**
 * Ask a question over `POST /v1/ask/stream`; calls `onEvent` with each parsed event as it arrives.
 * @param {{question: string, agent?: string | null}} body
 * @param {(event: any) => void} onEvent receives the event JSON (its `type` says which one)
 * @param {AbortSignal} [signal] aborting it stops reading, which cancels the ask on the server
 */
export async function streamAsk(body, onEvent, signal) {
  const response = await request("/v1/ask/stream", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.body) throw new ApiError(0, "the browser gave no response stream");
  for await (const message of readSse(response.body)) {
    onEvent(JSON.parse(message.data));
  }
}
