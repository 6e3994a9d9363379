// @ts-check
// DOM helpers: elements built from data (never HTML strings), formatting, small widgets.

/** Builds an element; strings in `children` become text nodes, so API data is never parsed as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "className") node.className = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "value") node.value = value;
    else if (key === "checked") node.checked = Boolean(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

/**
 * A table that scrolls sideways on a narrow screen: column headings, the table's own
 * attributes, its body (a tbody), and a caption for screen readers.
 * @param {string[]} headings
 * @param {Record<string, any>} attrs
 * @param {HTMLElement} body
 * @param {string} [caption]
 */
export function dataTable(headings, attrs, body, caption) {
  return el(
    "div",
    { className: "table-wrap" },
    el(
      "table",
      attrs,
      caption ? el("caption", { className: "visually-hidden", text: caption }) : null,
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          headings.map((h) => el("th", { scope: "col", text: h })),
        ),
      ),
      body,
    ),
  );
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function hiddenText(text) {
  return el("span", { className: "visually-hidden", text });
}

const TONES = {
  ok: "ok",
  online: "ok",
  active: "ok",
  on: "ok",
  recording: "info",
  starting: "info",
  offline: "warn",
  error: "bad",
  failed: "bad",
  disabled: "muted",
  unknown: "muted",
  off: "muted",
  sent: "ok",
  queued: "info",
  pending: "info",
  retrying: "warn",
  running: "info",
  finished: "ok",
  done: "ok",
  passed: "ok",
  "not met": "warn",
  not_met: "warn",
  waiting: "info",
  snoozed: "warn",
  invalid: "bad",
  interrupted: "warn",
  expired: "muted",
  admin: "info",
  viewer: "muted",
  idle: "ok",
  full: "info",
};

/** A badge whose state is written as text too: colour is only a second cue. */
export function badge(state, testId) {
  const text = typeof state === "string" && state ? state : "unknown";
  return el("span", { className: "badge", "data-tone": TONES[text] ?? "muted", "data-state": text, "data-testid": testId, text });
}

export function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

export function formatTime(seconds, withDate = false) {
  if (!Number.isFinite(seconds)) return "—";
  const date = new Date(seconds * 1000);
  /** @type {Intl.DateTimeFormatOptions} */
  const opts = withDate ? { dateStyle: "medium", timeStyle: "medium" } : { timeStyle: "medium" };
  return new Intl.DateTimeFormat(undefined, opts).format(date);
}

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatDuration(totalSeconds) {
  let rest = Math.max(0, Math.floor(Number(totalSeconds) || 0));
  /** @type {Array<[string, number]>} */
  const units = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
    ["second", 1],
  ];
  /** @type {Array<[string, number]>} */
  const parts = [];
  for (const [name, size] of units) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count || parts.length) parts.push([name, count]);
  }
  if (!parts.length) return "0 seconds";
  return parts
    .slice(0, 2)
    .filter(([, c]) => c > 0)
    .map(([n, c]) => plural(c, n))
    .join(" ");
}

/** YYYY-MM-DD of a local date. */
export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/**
 * A labelled form field; `control` gets an id tied to its label and an error slot.
 * @param {string} labelText
 * @param {HTMLElement} control
 * @param {{hint?: string, path?: string}} [options]
 */
export function field(labelText, control, { hint, path } = {}) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const errorId = `${id}-error`;
  const error = el("p", { className: "field-error", id: errorId, "data-testid": "field-error", role: "alert" });
  const described = [errorId];
  let hintNode = null;
  if (hint) {
    hintNode = el("p", { className: "hint", id: `${id}-hint`, text: hint });
    described.push(hintNode.id);
  }
  control.setAttribute("aria-describedby", described.join(" "));
  const label = el("label", { for: id, text: labelText });
  return el("div", { className: "field", "data-path": path ?? null }, label, control, hintNode, error);
}

/** Shows an error under a field (found by its data-path) or clears it. */
export function setFieldError(wrapper, message) {
  const slot = wrapper.querySelector(":scope > .field-error");
  const control = wrapper.querySelector(":scope > input, :scope > select, :scope > textarea");
  if (slot) slot.textContent = message || "";
  if (control) control.toggleAttribute("aria-invalid", Boolean(message));
  wrapper.classList.toggle("has-error", Boolean(message));
}

export function button(text, onClick, attrs = {}) {
  return el("button", { type: "button", ...attrs, onclick: onClick }, text);
}

/** A live region message for the whole page (errors and confirmations). */
export function notify(text, kind = "info") {
  const notice = document.getElementById("notice");
  if (!notice) return;
  notice.dataset.kind = kind;
  if (notice.textContent !== text) notice.textContent = text;
}

/**
 * A pop-up message for a few seconds, with its picture when it has one.
 * @param {string} title
 * @param {string} body
 * @param {string} [kind]
 * @param {string | null} [picture]  URL of the message's picture.
 */
export function toast(title, body, kind = "info", picture = null) {
  const box = document.querySelector(".toasts");
  if (!box) return;
  const image = picture ? el("img", { src: picture, alt: "", className: "toast-picture", "data-testid": "toast-picture" }) : null;
  image?.addEventListener("error", () => image.remove()); // e.g. a viewer: pictures are for admins
  const item = el("div", { className: `toast toast-${kind}`, "data-testid": "toast" }, image, el("h2", { text: title }), body ? el("p", { text: body }) : null);
  box.append(item);
  setTimeout(() => item.remove(), 8000);
  while (box.children.length > 4) box.firstElementChild.remove();
}
