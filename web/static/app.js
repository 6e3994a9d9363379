// @ts-check
// camhub panel entry: sign-in and first-run setup, hash routes to views, one live WebSocket.

import { ApiError, get, post, setCsrfToken, setUnauthorizedHandler, wsUrl } from "./js/api.js";
import { button, clear, el, field, notify, setFieldError, toast } from "./js/dom.js";

const ROUTES = {
  live: { title: "Live", load: () => import("./js/live.js") },
  events: { title: "Events", load: () => import("./js/events.js") },
  automations: { title: "Automations", load: () => import("./js/automations.js") },
  cameras: { title: "Cameras", load: () => import("./js/cameras.js") },
  system: { title: "System", load: () => import("./js/system.js") },
};
const DEFAULT_ROUTE = "live";
const HEALTH_MS = 15000;

/** What every view receives: who is signed in, the hub's live events, navigation. */
const ctx = {
  user: null,
  events: new EventTarget(),
  isAdmin() {
    return this.user?.role === "admin";
  },
  navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  /** A message for the page we are about to open (navigation clears the current one). */
  flash(text, kind = "ok") {
    flashed = { text, kind };
  },
};
/** @type {{text: string, kind: string} | null} */
let flashed = null;

/** The element a selector names in index.html (always there). */
const byId = (/** @type {string} */ selector) => /** @type {HTMLElement} */ (document.querySelector(selector));

let cleanup = null;
let routeToken = 0;

// ---------------------------------------------------------------- sign-in

/** Where this browser stands: "setup" (no user yet), "in" or "out". One request that answers
 * 200 either way, so a signed-out page logs no error. */
async function authState() {
  /** @type {import("./js/types.js").AuthState} */
  const state = await get("/api/auth/state");
  if (state.user) {
    ctx.user = state.user;
    setCsrfToken(state.csrf_token);
    return "in";
  }
  return state.setup_needed ? "setup" : "out";
}

/**
 * @param {{title: string, intro?: string, submitText: string, testId: string, confirm?: boolean, withCode?: boolean,
 *   onSubmit: (username: string, password: string, code?: string) => Promise<void>}} options
 */
function credentialsForm({ title, intro, submitText, testId, confirm, withCode, onSubmit }) {
  const code = withCode
    ? el("input", {
        name: "code",
        required: true,
        autocomplete: "one-time-code",
        autocapitalize: "characters",
        spellcheck: "false",
        "data-testid": "setup-code",
      })
    : null;
  const codeField = code
    ? field("Setup code", code, {
        path: "code",
        hint: "Printed where camhub was started: in the terminal running camhub run (or ./scripts/start.sh), and in its log (journalctl, if it runs as a service). It looks like ABCD-EFGH-JKMN.",
      })
    : null;
  const username = el("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none" });
  const password = el("input", { name: "password", type: "password", required: true, autocomplete: confirm ? "new-password" : "current-password" });
  const again = confirm ? el("input", { name: "password2", type: "password", required: true, autocomplete: "new-password" }) : null;
  const nameField = field("User name", username, { path: "username" });
  const passField = field("Password", password, { path: "password", hint: confirm ? "At least 8 characters." : undefined });
  const againField = again ? field("Password again", again, { path: "password2" }) : null;
  const status = el("p", { className: "form-status", role: "alert", "data-testid": "form-status" });
  const form = el(
    "form",
    { className: "card auth-form", "data-testid": testId, novalidate: true },
    el("h1", { text: title, tabindex: "-1" }),
    intro ? el("p", { text: intro }) : null,
    codeField,
    nameField,
    passField,
    againField,
    status,
    el("button", { type: "submit", className: "primary", text: submitText }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const wrapper of form.querySelectorAll(".field")) setFieldError(wrapper, "");
    status.textContent = "";
    if (code && !code.value.trim()) return (setFieldError(codeField, "Enter the setup code."), code.focus());
    if (!username.value.trim()) return (setFieldError(nameField, "Enter a user name."), username.focus());
    if (!password.value) return (setFieldError(passField, "Enter a password."), password.focus());
    if (again && again.value !== password.value) return (setFieldError(againField, "The passwords differ."), again.focus());
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      await onSubmit(username.value.trim(), password.value, code?.value.trim());
    } catch (error) {
      const errors = error instanceof ApiError ? error.fieldErrors : [];
      let placed = false;
      for (const { path, message } of errors) {
        const wrapper = form.querySelector(`.field[data-path="${CSS.escape(path)}"]`);
        if (wrapper) (setFieldError(wrapper, message), (placed = true));
      }
      if (!placed) status.textContent = error.message;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function showSignedOut(kind) {
  teardownView();
  byId(".site-nav").hidden = true;
  byId(".account").hidden = true;
  const view = document.getElementById("view");
  const form =
    kind === "setup"
      ? credentialsForm({
          title: "Welcome to camhub",
          intro:
            "Create the administrator account: it can add cameras, users and automations. camhub asks for the one-time setup code it printed when it started, so that only whoever runs it can do this.",
          submitText: "Create administrator",
          testId: "setup-form",
          confirm: true,
          withCode: true,
          onSubmit: async (username, password, code) => {
            /** @type {import("./js/types.js").SignedIn} */
            const answer = await post("/api/auth/setup", { username, password, code });
            setCsrfToken(answer.csrf_token);
            await start();
          },
        })
      : credentialsForm({
          title: "Log in",
          submitText: "Log in",
          testId: "login-form",
          onSubmit: async (username, password) => {
            await login(username, password);
            await start();
          },
        });
  clear(view, form);
  document.title = `${kind === "setup" ? "Set up" : "Log in"} · camhub`;
  form.querySelector("input").focus();
}

async function login(username, password) {
  /** @type {import("./js/types.js").SignedIn} */
  const answer = await post("/api/auth/login", { username, password });
  setCsrfToken(answer.csrf_token);
}

async function logout() {
  try {
    await post("/api/auth/logout");
  } catch (error) {
    notify(`Could not log out: ${error.message}`, "error");
  }
  setCsrfToken(null);
  ctx.user = null;
  liveSocket.stop();
  showSignedOut("out");
}

// ---------------------------------------------------------------- routing

function teardownView() {
  if (typeof cleanup === "function") {
    try {
      cleanup();
    } catch (error) {
      console.error(error);
    }
  }
  cleanup = null;
}

function parseHash() {
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  return { name, params: rest.map(decodeURIComponent) };
}

async function route() {
  if (!ctx.user) return;
  let { name, params } = parseHash();
  if (!Object.hasOwn(ROUTES, name)) {
    history.replaceState(null, "", `#/${DEFAULT_ROUTE}`);
    name = DEFAULT_ROUTE;
    params = [];
  }
  const token = ++routeToken;
  for (const link of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".site-nav a[data-route]"))) {
    if (link.dataset.route === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${ROUTES[name].title} · camhub`;
  notify("");
  teardownView();
  const view = document.getElementById("view");
  clear(view, el("p", { className: "loading", text: "Loading…" }));
  let module;
  try {
    module = await ROUTES[name].load();
  } catch (error) {
    notify(`This page could not be loaded: ${error.message}`, "error");
    return;
  }
  if (token !== routeToken) return;
  clear(view);
  view.dataset.view = name;
  try {
    cleanup = await module.render(view, ctx, params);
  } catch (error) {
    notify(error.message, "error");
  }
  if (token !== routeToken) return;
  if (flashed) notify(flashed.text, flashed.kind);
  flashed = null;
  view.querySelector("h1")?.focus({ preventScroll: true });
}

// ---------------------------------------------------------------- live events and health

class LiveSocket {
  constructor() {
    this.socket = null;
    this.attempt = 0;
    this.timer = 0;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    const socket = new WebSocket(wsUrl("/api/ws"));
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      setHealth("ok", "Live");
      ctx.events.dispatchEvent(new CustomEvent("reconnected"));
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      ctx.events.dispatchEvent(new CustomEvent("hub-event", { detail: event }));
      if (event.event_type === "notification_posted") toast(event.title ?? "Notification", event.body ?? "", "info", event.snapshot_url);
    });
    socket.addEventListener("close", () => {
      if (this.stopped || this.socket !== socket) return;
      setHealth("error", "Reconnecting…");
      // Back off to 30 s so a hub that is down is not hammered by every open tab.
      const delay = Math.min(30000, 1000 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close();
    this.socket = null;
  }
}

const liveSocket = new LiveSocket();

function setHealth(state, text) {
  const status = byId('[data-testid="health-status"]');
  status.dataset.state = state;
  const node = status.querySelector(".health-text");
  if (node.textContent !== text) node.textContent = text;
}

async function checkHealth() {
  try {
    const health = await get("/api/health");
    const problems = (health.problems?.length ?? 0) + (health.plugins_failed?.length ?? 0);
    document.querySelector(".footer-version").textContent = health.version ? ` ${health.version}` : "";
    if (problems) setHealth("problems", `${problems} problem${problems === 1 ? "" : "s"}`);
    else if (liveSocket.socket?.readyState === WebSocket.OPEN) setHealth("ok", "Live");
    // Signed out there is no live feed to wait for: the hub answering is the news.
    else if (!ctx.user) setHealth("ok", "Hub running");
  } catch {
    setHealth("error", "Hub unreachable");
  }
}

// ---------------------------------------------------------------- start

async function start() {
  let state;
  try {
    state = await authState();
  } catch (error) {
    setHealth("error", "Hub unreachable");
    clear(
      document.getElementById("view"),
      el("p", { className: "notice", "data-kind": "error", text: `The hub could not be reached: ${error.message}` }),
      button("Try again", () => start()),
    );
    return;
  }
  if (state !== "in") {
    showSignedOut(state);
    return;
  }
  byId(".site-nav").hidden = false;
  const account = byId(".account");
  account.hidden = false;
  account.querySelector(".account-name").textContent = `${ctx.user.name} (${ctx.user.role})`;
  for (const link of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-admin-only]"))) link.hidden = !ctx.isAdmin();
  liveSocket.stop();
  liveSocket.start();
  await route();
}

setUnauthorizedHandler(() => {
  if (!ctx.user) return;
  ctx.user = null;
  liveSocket.stop();
  showSignedOut("out");
  notify("Your session ended. Please log in again.", "auth");
});

document.querySelector('[data-testid="logout"]').addEventListener("click", logout);
window.addEventListener("hashchange", () => route());
setInterval(checkHealth, HEALTH_MS);
checkHealth();
start();
