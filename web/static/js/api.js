// @ts-check
// The JSON API client: session cookie, X-CSRF-Token on every write, errors a person can read.

let csrfToken = null;
let onUnauthorized = () => {};

export function setCsrfToken(token) {
  csrfToken = token || null;
}

export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

/**
 * The error bodies the hub sends: `{"errors": [{path, message}]}` for invalid input (422),
 * `{"error": "..."}` from some routes, and plain text from the rest.
 * @typedef {{errors?: import("./types.js").FieldError[], error?: string}} ErrorBody
 */

export class ApiError extends Error {
  /**
   * @param {number} status  0 when the hub could not be reached.
   * @param {string} message
   * @param {ErrorBody | string | null} body
   */
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }

  /** Field errors as [{path: "triggers.0.camera", message}], paths as the forms spell them. */
  get fieldErrors() {
    return fieldErrorsOf(this.body);
  }
}

/** "actions[2].notifier" (the hub's spelling) -> "actions.2.notifier" (the forms' data-path). */
function formPath(/** @type {string} */ path) {
  return path
    .split(/[.[\]]+/)
    .filter(Boolean)
    .join(".");
}

/** @param {ErrorBody | string | null} body */
export function fieldErrorsOf(body) {
  if (!body || typeof body !== "object" || !Array.isArray(body.errors)) return [];
  return body.errors.map((item) => ({ path: formPath(item.path ?? ""), message: String(item.message) }));
}

/**
 * @param {ErrorBody | string | null} body
 * @param {number} status
 */
function messageOf(body, status) {
  if (body && typeof body === "object") {
    if (typeof body.error === "string") return body.error;
    const errors = fieldErrorsOf(body);
    if (errors.length) return errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ");
  }
  if (typeof body === "string" && body.trim() && body.length < 300) return body.trim();
  return `the hub answered HTTP ${status}`;
}

/**
 * One API call; resolves with the decoded answer, rejects with an ApiError a person can read.
 * @param {string} method
 * @param {string} url
 * @param {unknown} [body]  JSON-encoded unless a string.
 * @param {{signal?: AbortSignal, contentType?: string}} [options]
 * @returns {Promise<any>}
 */
export async function request(method, url, body, { signal, contentType } = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  /** @type {RequestInit} */
  const init = { method, credentials: "same-origin", cache: "no-store", headers, signal };
  if (body !== undefined) {
    if (typeof body === "string") {
      headers["Content-Type"] = contentType ?? "text/plain";
      init.body = body;
    } else {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  if (method !== "GET" && method !== "HEAD" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "the hub could not be reached", null);
  }
  const type = response.headers.get("Content-Type") ?? "";
  const data = type.includes("json") ? await response.json().catch(() => null) : await response.text();
  if (response.status === 401 && !url.startsWith("/api/auth/")) onUnauthorized();
  if (!response.ok) throw new ApiError(response.status, messageOf(data, response.status), data);
  return data;
}

export const get = (url, options) => request("GET", url, undefined, options);
export const post = (url, body, options) => request("POST", url, body ?? {}, options);
export const put = (url, body, options) => request("PUT", url, body, options);
export const patch = (url, body, options) => request("PATCH", url, body, options);
export const del = (url, options) => request("DELETE", url, undefined, options);

/** A WebSocket URL on this host for an API path. */
export function wsUrl(path) {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;
}
