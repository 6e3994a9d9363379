// camhub panel: hash-routed views (cameras, plugins, system) rendered from the JSON API, refreshed every 5 s.

const REFRESH_MS = 5000;
const HEALTH_URL = "/api/health";

const ROUTES = {
  cameras: { title: "Cameras", url: "/api/cameras", render: renderCameras },
  plugins: { title: "Plugins", url: "/api/plugins", render: renderPlugins },
  system: { title: "System", url: HEALTH_URL, render: renderSystem },
};
const DEFAULT_ROUTE = "cameras";

// Colour is a second cue only: every badge also carries its state as text.
const STATE_TONES = {
  ok: "ok",
  online: "ok",
  active: "ok",
  starting: "info",
  offline: "warn",
  error: "bad",
  failed: "bad",
  disabled: "muted",
  unknown: "muted",
};

class AuthRequiredError extends Error {}

class HttpError extends Error {
  constructor(status) {
    super(`the hub answered HTTP ${status}`);
    this.status = status;
  }
}

const panel = {
  refreshTimer: 0,
  inFlight: null,
  // Skips re-rendering identical data so focus, scroll and screen readers are not disturbed.
  lastRendered: new Map(),
  cameraTiles: new Map(),
  lastSuccess: null,
};

// ---------------------------------------------------------------- DOM helpers

/** Builds an element; strings in `children` become text nodes, so API data is never parsed as HTML. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function visuallyHidden(text) {
  return el("span", { className: "visually-hidden", text });
}

/** A dash for sighted users and the word "none" for screen readers, which may skip a lone dash. */
function noneMarker() {
  return el("span", { className: "none" }, el("span", { "aria-hidden": "true", text: "—" }), visuallyHidden("none"));
}

function stateBadge(state, testId) {
  const text = typeof state === "string" && state ? state : "unknown";
  return el("span", {
    className: "badge",
    "data-tone": STATE_TONES[text] ?? "muted",
    "data-state": text,
    "data-testid": testId,
    text,
  });
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function asList(value) {
  return Array.isArray(value) ? value : [];
}

/** Uptime as the two largest non-zero units ("2 days 3 hours"): precise enough to read at a glance. */
function formatDuration(totalSeconds) {
  let rest = Math.max(0, Math.floor(Number(totalSeconds) || 0));
  const units = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
  const counts = units.map(([name, size]) => {
    const count = Math.floor(rest / size);
    rest -= count * size;
    return [name, count];
  });
  const first = counts.findIndex(([, count]) => count > 0);
  if (first === -1) return "0 seconds";
  return counts
    .slice(first, first + 2)
    .filter(([, count]) => count > 0)
    .map(([name, count]) => plural(count, name))
    .join(" ");
}

function formatNumber(value) {
  return Number.isFinite(value) ? value.toLocaleString() : "unknown";
}

// ---------------------------------------------------------------- API

async function getJSON(url, signal) {
  const response = await fetch(url, {
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json" },
    signal,
  });
  if (response.status === 401) throw new AuthRequiredError();
  if (!response.ok) throw new HttpError(response.status);
  return response.json();
}

function describeError(error) {
  if (error instanceof HttpError) return error.message;
  if (error instanceof SyntaxError) return "the hub sent an answer that is not JSON";
  return "the hub could not be reached";
}

// ---------------------------------------------------------------- routing

function currentRoute() {
  const name = location.hash.replace(/^#\/?/, "");
  return Object.prototype.hasOwnProperty.call(ROUTES, name) ? name : null;
}

function showSection(name) {
  for (const section of document.querySelectorAll("main > .view")) {
    section.hidden = section.dataset.view !== name;
  }
}

function markActiveNav(route) {
  for (const link of document.querySelectorAll(".site-nav a[data-route]")) {
    if (link.dataset.route === route) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function activateRoute({ moveFocus }) {
  let route = currentRoute();
  if (route === null) {
    // replaceState keeps the Back button from bouncing through a bad or empty hash.
    history.replaceState(null, "", `#/${DEFAULT_ROUTE}`);
    route = DEFAULT_ROUTE;
  }
  markActiveNav(route);
  showSection(route);
  document.title = `${ROUTES[route].title} · camhub`;
  setNotice("");
  // Keyboard and screen-reader users land on the new view instead of staying on the nav link.
  if (moveFocus) document.getElementById(`${route}-title`)?.focus();
  refresh();
}

// ---------------------------------------------------------------- status and notices

/** Writes only on change: a live region re-announces every write, even of the same text. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setNotice(text, kind = "error") {
  const notice = document.getElementById("notice");
  notice.dataset.kind = kind;
  setText(notice, text);
}

function problemCount(health) {
  return asList(health.problems).length + asList(health.plugins_failed).length;
}

function renderHealthStatus(result) {
  const status = document.querySelector('[data-testid="health-status"]');
  const text = status.querySelector(".health-text");
  if (result.status === "fulfilled") {
    const health = result.value ?? {};
    const count = problemCount(health);
    const ok = health.status === "ok" && count === 0;
    status.dataset.state = ok ? "ok" : "problems";
    setText(text, ok ? "OK" : count > 0 ? plural(count, "problem") : String(health.status ?? "unknown"));
    setText(document.querySelector(".footer-version"), health.version ? ` ${health.version}` : "");
  } else if (result.reason instanceof AuthRequiredError) {
    status.dataset.state = "auth";
    setText(text, "Log in required");
  } else if (result.reason?.name !== "AbortError") {
    status.dataset.state = "error";
    setText(text, "Hub unreachable");
  }
}

// ---------------------------------------------------------------- cameras view

function renderCameras(body, data) {
  const cameras = asList(data?.cameras);
  if (cameras.length === 0) {
    panel.cameraTiles.clear();
    body.replaceChildren(document.getElementById("tpl-empty-cameras").content.cloneNode(true));
    return;
  }
  let grid = body.querySelector(".camera-grid");
  if (!grid) {
    grid = el("ul", { className: "camera-grid" });
    body.replaceChildren(grid);
  }
  const seen = new Set();
  const cells = cameras.map((camera) => {
    const id = String(camera.id);
    seen.add(id);
    let tile = panel.cameraTiles.get(id);
    if (!tile) {
      tile = createCameraTile(id);
      panel.cameraTiles.set(id, tile);
    }
    updateCameraTile(tile, camera);
    return tile.cell;
  });
  for (const [id, tile] of panel.cameraTiles) {
    if (!seen.has(id)) {
      tile.cell.remove();
      panel.cameraTiles.delete(id);
    }
  }
  // Moves a tile only when the order really changed: moving a node would restart a live <video> in it.
  cells.forEach((cell, index) => {
    if (grid.children[index] !== cell) grid.insertBefore(cell, grid.children[index] ?? null);
  });
}

/**
 * A tile is kept across refreshes (keyed by camera id); only its head and details are rebuilt.
 * Its media box is created once so the live view can later put a <video> or <img> in it.
 */
function createCameraTile(id) {
  const head = el("div", { className: "camera-head" });
  const placeholderName = el("span", { className: "placeholder-name", "aria-hidden": "true" });
  const placeholder = el(
    "div",
    { className: "camera-placeholder", "data-testid": "camera-placeholder" },
    placeholderName,
    el("span", { className: "placeholder-note", text: "Live view coming soon" }),
  );
  // LIVE VIEW SLOT: the live-view issue replaces the placeholder with a <video> or <img>; style.css already sizes them.
  const media = el("div", { className: "camera-media", "data-slot": "live-view" }, placeholder);
  const details = el("div", { className: "camera-details" });
  const article = el("article", { className: "camera-tile", "data-testid": "camera-tile", "data-camera-id": id }, head, media, details);
  return { cell: el("li", {}, article), article, head, placeholderName, details, media, placeholder, image: null };
}

// Until live video arrives, an online camera shows a snapshot refreshed with the list.
function updateSnapshot(tile, camera) {
  if (camera.state !== "online") {
    if (tile.image) tile.media.replaceChildren(tile.placeholder);
    tile.image = null;
    return;
  }
  if (!tile.image) {
    tile.image = el("img", { className: "camera-snapshot", "data-testid": "camera-snapshot" });
    tile.image.alt = `Latest picture from ${camera.name || camera.id}`;
    tile.media.replaceChildren(tile.image);
  }
  // A new URL each refresh: the browser must not reuse the previous picture.
  tile.image.src = `/api/cameras/${encodeURIComponent(camera.id)}/snapshot.jpg?t=${Date.now()}`;
}

function updateCameraTile(tile, camera) {
  const name = camera.name || String(camera.id);
  const state = camera.state || "unknown";
  tile.article.dataset.state = state;
  tile.head.replaceChildren(el("h2", { text: name }), stateBadge(state, "camera-state"));
  setText(tile.placeholderName, name);

  const details = [];
  if (state !== "online" && camera.reason) {
    details.push(el("p", { className: "camera-reason" }, visuallyHidden("Reason: "), String(camera.reason)));
  }
  const facts = el("dl", { className: "facts" });
  addFact(facts, "ID", String(camera.id));
  addFact(facts, "Recording", camera.record_mode ?? "unknown");
  if (camera.enabled === false) addFact(facts, "Enabled", "no");
  addFact(facts, "Stream", el("code", { className: "camera-url", text: camera.url ?? "" }));
  if (camera.detect_url) addFact(facts, "Detect stream", el("code", { className: "camera-url", text: camera.detect_url }));
  details.push(facts);
  tile.details.replaceChildren(...details);
  updateSnapshot(tile, camera);
}

function addFact(list, term, value) {
  list.append(el("div", {}, el("dt", { text: term }), el("dd", {}, value)));
}

// ---------------------------------------------------------------- plugins view

function renderPlugins(body, data) {
  const plugins = asList(data?.plugins);
  const header = el(
    "tr",
    {},
    ...["Name", "Source", "Version", "State", "Hooks", "Error"].map((label) => el("th", { scope: "col", text: label })),
  );
  const rows = plugins.map(pluginRow);
  if (rows.length === 0) {
    rows.push(el("tr", {}, el("td", { colspan: "6", className: "empty-row", text: "No plugins are loaded." })));
  }
  const table = el(
    "table",
    { className: "data-table" },
    el("caption", { className: "visually-hidden", text: `${plural(plugins.length, "plugin")} loaded` }),
    el("thead", {}, header),
    el("tbody", {}, ...rows),
  );
  // Focusable so keyboard users can scroll the table sideways on narrow screens.
  body.replaceChildren(el("div", { className: "table-scroll", role: "region", "aria-label": "Plugins table", tabindex: "0" }, table));
}

function pluginRow(plugin) {
  const failures = Number(plugin.failures) || 0;
  const hooks = asList(plugin.hooks);
  const hookCell = hooks.length
    ? el("ul", { className: "hook-list" }, ...hooks.map((hook) => el("li", {}, el("code", { text: String(hook) }))))
    : noneMarker();
  return el(
    "tr",
    { "data-testid": "plugin-row", "data-plugin-name": String(plugin.name) },
    el("th", { scope: "row", text: String(plugin.name) }),
    el("td", { text: String(plugin.source ?? "unknown") }),
    el("td", {}, plugin.version ? String(plugin.version) : noneMarker()),
    el(
      "td",
      {},
      stateBadge(plugin.state, "plugin-state"),
      failures > 0 ? el("span", { className: "failures", text: ` ${plural(failures, "failure")}` }) : null,
    ),
    el("td", {}, hookCell),
    el("td", { className: "error-text" }, plugin.error ? String(plugin.error) : noneMarker()),
  );
}

// ---------------------------------------------------------------- system view

function renderSystem(body, health) {
  const problems = asList(health?.problems);
  const failed = asList(health?.plugins_failed);
  const bus = health?.bus ?? {};
  const cameras = Object.entries(health?.cameras ?? {});
  const online = cameras.filter(([, state]) => state === "online").length;

  const overview = el("dl", { className: "facts" });
  addFact(overview, "Status", stateBadge(health?.status ?? "unknown", "system-status"));
  addFact(overview, "Version", String(health?.version ?? "unknown"));
  addFact(overview, "Uptime", el("span", { title: `${Math.floor(Number(health?.uptime) || 0)} s` }, formatDuration(health?.uptime)));
  addFact(overview, "Cameras online", `${online} of ${cameras.length}`);

  const busFacts = el("dl", { className: "facts" });
  addFact(busFacts, "Events published", formatNumber(bus.published));
  addFact(busFacts, "Events dropped", formatNumber(bus.dropped));

  body.replaceChildren(
    systemCard("Overview", overview),
    systemCard(`Problems (${problems.length})`, listOrNone(problems, "No problems found in the configuration.", "problem-list")),
    systemCard(`Failed plugins (${failed.length})`, listOrNone(failed, "Every plugin loaded.")),
    systemCard("Event bus", busFacts, bus.dropped > 0 ? el("p", { className: "hint", text: "Dropped events mean a consumer was too slow to keep up." }) : null),
    systemCard("Camera states", cameraStateList(cameras)),
  );
}

function systemCard(title, ...content) {
  return el("section", { className: "card" }, el("h2", { text: title }), ...content);
}

function listOrNone(items, noneText, className = "plain-list") {
  if (items.length === 0) return el("p", { className: "muted", text: noneText });
  return el("ul", { className }, ...items.map((item) => el("li", { text: String(item) })));
}

function cameraStateList(cameras) {
  if (cameras.length === 0) return el("p", { className: "muted", text: "No cameras configured." });
  return el(
    "ul",
    { className: "plain-list" },
    ...cameras.map(([entity, state]) => el("li", {}, el("code", { text: entity }), " ", stateBadge(state))),
  );
}

// ---------------------------------------------------------------- refresh loop

function renderView(route, result) {
  if (result.status === "fulfilled") {
    showSection(route);
    panel.lastSuccess = new Date();
    setNotice("");
    const serialized = JSON.stringify(result.value);
    if (panel.lastRendered.get(route) === serialized) return;
    panel.lastRendered.set(route, serialized);
    ROUTES[route].render(document.querySelector(`#view-${route} .view-body`), result.value);
  } else if (result.reason instanceof AuthRequiredError) {
    showSection("login");
    document.title = "Log in · camhub";
    // The login heading says it visibly; this reaches screen readers without a second visible message.
    setNotice("Please log in.", "auth");
  } else if (result.reason?.name !== "AbortError") {
    showSection(route);
    // Keeps the last good data on screen: a blip in the network should not blank the panel.
    const since = panel.lastSuccess ? ` Showing data from ${panel.lastSuccess.toLocaleTimeString()}.` : "";
    setNotice(`Could not load ${ROUTES[route].title.toLowerCase()}: ${describeError(result.reason)}.${since} Retrying every 5 seconds.`);
  }
}

async function refresh() {
  clearTimeout(panel.refreshTimer);
  panel.inFlight?.abort();
  const controller = new AbortController();
  panel.inFlight = controller;
  const route = currentRoute() ?? DEFAULT_ROUTE;

  // The system view shows /api/health itself, so each URL is fetched once per round.
  const urls = [...new Set([HEALTH_URL, ROUTES[route].url])];
  const results = await Promise.allSettled(urls.map((url) => getJSON(url, controller.signal)));
  if (controller.signal.aborted) return;
  const byUrl = new Map(urls.map((url, index) => [url, results[index]]));

  renderHealthStatus(byUrl.get(HEALTH_URL));
  renderView(route, byUrl.get(ROUTES[route].url));
  panel.inFlight = null;
  if (!document.hidden) panel.refreshTimer = setTimeout(refresh, REFRESH_MS);
}

function pauseWhileHidden() {
  if (document.hidden) {
    // A background tab need not poll the hub; a Pi has better things to do.
    clearTimeout(panel.refreshTimer);
    panel.inFlight?.abort();
    panel.inFlight = null;
  } else {
    refresh();
  }
}

// Live notifications from the `panel` notifier arrive over the WebSocket as small toasts.
const TOAST_MS = 10000;
const MAX_TOASTS = 4;

function showToast(note) {
  const area = document.querySelector(".toasts");
  const toast = el(
    "article",
    { className: `toast priority-${Number(note.priority) || 3}`, "data-testid": "toast" },
    el("h2", { text: String(note.title ?? "") }),
    el("p", { text: String(note.body ?? "") }),
  );
  area.prepend(toast);
  while (area.children.length > MAX_TOASTS) area.lastElementChild.remove();
  setTimeout(() => toast.remove(), TOAST_MS);
}

function connectLive(delay = 1000) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/ws?types=notification_posted`);
  socket.addEventListener("message", (message) => {
    try {
      const event = JSON.parse(message.data);
      if (event.event_type === "notification_posted") showToast(event);
    } catch {
      // A malformed frame is ignored; the next one may be fine.
    }
  });
  // Reconnect with back-off so a hub restart does not need a page reload.
  socket.addEventListener("close", () => setTimeout(() => connectLive(Math.min(delay * 2, 30000)), delay));
  socket.addEventListener("open", () => { delay = 1000; });
}

function start() {
  // Routes use the hash, so the skip link must move focus itself instead of changing it.
  document.querySelector(".skip-link").addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main").focus();
  });
  window.addEventListener("hashchange", () => activateRoute({ moveFocus: true }));
  document.addEventListener("visibilitychange", pauseWhileHidden);
  activateRoute({ moveFocus: false });
  connectLive();
}

start();
