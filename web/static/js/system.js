// @ts-check
// System: house mode, plugins, storage and retention, the notification log, users; the audit
// log and storage privacy pages load on demand (#/system/audit, #/system/privacy).

import { ApiError, del, get, patch, post, put } from "./api.js";
import { badge, button, clear, dataTable, el, field, formatBytes, formatDuration, formatTime, notify, plural } from "./dom.js";

const MODES = ["home", "away", "night", "vacation"];

function section(title, testId, ...children) {
  const id = `sys-${testId}`;
  return el("section", { className: "card", "aria-labelledby": id, "data-testid": testId }, el("h2", { id, text: title }), ...children);
}

async function modeSection(ctx) {
  const { mode } = await get("/api/mode");
  const options = [...new Set([...MODES, mode])];
  const select = el(
    "select",
    { name: "mode", disabled: !ctx.isAdmin(), "data-testid": "house-mode" },
    options.map((m) => el("option", { value: m, text: m, selected: m === mode })),
  );
  const status = el("p", { className: "muted", role: "status" });
  select.addEventListener("change", async () => {
    try {
      const answer = await put("/api/mode", { mode: select.value });
      status.textContent = `House mode is now ${answer.mode}.`;
    } catch (error) {
      status.textContent = `Could not switch: ${error.message}`;
    }
  });
  return section("House mode", "mode", field("Mode", select, { hint: "Automations can react to the house mode (mode.house)." }), status);
}

async function healthSection() {
  const health = await get("/api/health");
  const problems = [...(health.problems ?? []), ...(health.plugins_failed ?? []).map((p) => `plugin ${p} failed`)];
  return section(
    "Hub",
    "health",
    el(
      "dl",
      { className: "facts" },
      el("div", {}, el("dt", { text: "Status" }), el("dd", {}, badge(health.status))),
      el("div", {}, el("dt", { text: "Version" }), el("dd", { text: health.version ?? "?" })),
      el("div", {}, el("dt", { text: "Running for" }), el("dd", { text: formatDuration(health.uptime) })),
    ),
    problems.length
      ? el(
          "ul",
          {},
          problems.map((p) => el("li", { text: p })),
        )
      : el("p", { className: "muted", text: "No problems." }),
  );
}

async function pluginsSection() {
  const { plugins } = await get("/api/plugins");
  return section(
    "Plugins",
    "plugins",
    dataTable(
      ["Plugin", "Version", "State", "Source"],
      {},
      el(
        "tbody",
        {},
        plugins.map((p) =>
          el(
            "tr",
            {},
            el("th", { scope: "row", text: p.name }),
            el("td", { text: p.version ?? "?" }),
            el("td", {}, badge(p.state), p.error ? el("div", { className: "hint", text: p.error }) : null),
            el("td", { text: p.source }),
          ),
        ),
      ),
    ),
  );
}

const DECODE_TEXT = { idle: "keyframes only", full: "every frame", off: "nothing" };

/** Adaptive decoding, per camera: what it decodes now, how many frames a second, and why. */
async function decodingSection() {
  const { cameras } = await get("/api/cameras");
  const rows = cameras.map((c) => {
    const d = c.decode ?? {};
    const why = Object.keys(d.reasons ?? {}).join(", ");
    return el(
      "tr",
      { "data-testid": `decode-${c.id}` },
      el("th", { scope: "row", text: c.name }),
      el("td", { text: d.setting ?? "?" }),
      el("td", {}, badge(d.mode), el("span", { className: "hint", text: ` ${DECODE_TEXT[d.mode] ?? ""}` })),
      el("td", { className: "num", "data-testid": "decode-fps", text: Number.isFinite(d.fps) ? d.fps.toFixed(1) : "—" }),
      el("td", { className: "num", text: String(d.wakeups ?? 0) }),
      el("td", { text: why || "—" }),
    );
  });
  return section(
    "Decoding",
    "decoding",
    el("p", {
      className: "muted",
      text: "Adaptive cameras decode keyframes only while nothing moves, and every frame from the first keyframe that shows motion until it has been quiet for detect.idle_after seconds.",
    }),
    cameras.length
      ? dataTable(["Camera", "Setting", "Now", "Decoded frames/s", "Wake-ups", "Why every frame"], {}, el("tbody", {}, rows))
      : el("p", { className: "muted", text: "No cameras." }),
  );
}

async function storageSection() {
  const data = await get("/api/storage");
  const r = data.retention ?? {};
  const rule = (days, gb) => [days ? plural(days, "day") : null, gb ? `${gb} GB` : null].filter(Boolean).join(", ") || "no limit";
  return section(
    "Storage",
    "storage",
    el(
      "p",
      {},
      `Footage: ${formatBytes(data.total_bytes)} · free: ${formatBytes(data.free_bytes)}`,
      data.paused ? el("strong", { text: " · recording paused: disk full" }) : null,
    ),
    el("p", { className: "muted", text: `Kept for all cameras: ${rule(r.max_days, r.max_gb)}; at least ${r.min_free_gb ?? "?"} GB stay free.` }),
    dataTable(
      ["Camera", "Footage", "Oldest", "Retention"],
      {},
      el(
        "tbody",
        {},
        (data.cameras ?? []).map((c) =>
          el(
            "tr",
            {},
            el("th", { scope: "row", text: c.camera }),
            el("td", { text: formatBytes(c.bytes) }),
            el("td", { text: formatTime(c.oldest, true) }),
            el("td", { text: rule(r.cameras?.[c.camera]?.max_days, r.cameras?.[c.camera]?.max_gb) }),
          ),
        ),
      ),
    ),
  );
}

async function notificationsSection() {
  const { notifications } = await get("/api/notifications?limit=20");
  return section(
    "Notifications",
    "notifications",
    notifications.length
      ? el(
          "ul",
          { className: "event-list" },
          notifications.map((n) =>
            el(
              "li",
              { className: "event-row" },
              badge(n.state),
              el(
                "span",
                {},
                el("strong", { text: n.title ?? "" }),
                ` → ${n.notifier} · ${formatTime(n.created, true)}`,
                n.error ? el("div", { className: "field-error", text: n.error }) : null,
              ),
            ),
          ),
        )
      : el("p", { className: "muted", text: "Nothing sent yet." }),
  );
}

async function usersSection(ctx) {
  const list = el("ul", { className: "event-list", "data-testid": "user-list" });
  const load = async () => {
    const data = await get("/api/users");
    clear(
      list,
      data.users.map((u) =>
        el(
          "li",
          { className: "event-row" },
          el("strong", { text: u.name }),
          badge(u.disabled ? "disabled" : u.role),
          u.role === "viewer" ? el("span", { className: "muted", text: `cameras: ${u.cameras.join(", ") || "none"}` }) : null,
          u.name === ctx.user.name
            ? null
            : button(u.disabled ? "Enable" : "Disable", async () => {
                try {
                  await patch(`/api/users/${encodeURIComponent(u.name)}`, { disabled: !u.disabled });
                  await load();
                } catch (error) {
                  notify(error.message, "error");
                }
              }),
          u.name === ctx.user.name
            ? null
            : button(
                "Delete",
                async () => {
                  if (!confirm(`Delete the user ${u.name}?`)) return;
                  try {
                    await del(`/api/users/${encodeURIComponent(u.name)}`);
                    await load();
                  } catch (error) {
                    notify(error.message, "error");
                  }
                },
                { className: "danger" },
              ),
        ),
      ),
    );
  };
  const username = el("input", { name: "username", autocomplete: "off", autocapitalize: "none" });
  const password = el("input", { name: "password", type: "password", autocomplete: "new-password" });
  const role = el("select", { name: "role" }, el("option", { value: "viewer", text: "viewer" }), el("option", { value: "admin", text: "admin" }));
  const cameras = el("input", { name: "cameras", placeholder: "front, yard" });
  const status = el("p", { className: "form-status", role: "alert" });
  const form = el(
    "form",
    { novalidate: true, "aria-label": "Add a user" },
    field("User name", username),
    field("Password", password, { hint: "At least 8 characters." }),
    field("Role", role),
    field("Cameras a viewer may see", cameras, { hint: "Camera ids, separated by commas." }),
    status,
    el("button", { type: "submit", text: "Add user" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    try {
      await post("/api/users", {
        username: username.value.trim(),
        password: password.value,
        role: role.value,
        cameras: cameras.value
          .split(",")
          .map((c) => c.trim())
          .filter(Boolean),
      });
      form.reset();
      await load();
    } catch (error) {
      status.textContent = error instanceof ApiError ? error.message : String(error);
    }
  });
  await load();
  return section("Users", "users", list, el("h3", { text: "Add a user" }), form);
}

const PAGES = { audit: () => import("./audit.js"), privacy: () => import("./privacy.js") };

export async function render(container, ctx, params = []) {
  if (ctx.isAdmin() && Object.hasOwn(PAGES, params[0] ?? "")) return (await PAGES[params[0]]()).render(container, ctx, params.slice(1));
  container.append(el("h1", { tabindex: "-1", text: "System" }));
  if (ctx.isAdmin())
    container.append(
      el(
        "p",
        { className: "toolbar", "data-testid": "system-pages" },
        el("a", { href: "#/system/audit", text: "Audit log" }),
        el("a", { href: "#/system/privacy", text: "Storage privacy" }),
      ),
    );
  const parts = [modeSection(ctx), healthSection(), decodingSection(), pluginsSection()];
  if (ctx.isAdmin()) parts.push(storageSection(), notificationsSection(), usersSection(ctx));
  const grid = el("div", { className: "grid-2" });
  container.append(grid);
  for (const result of await Promise.allSettled(parts)) {
    if (result.status === "fulfilled") grid.append(result.value);
    else grid.append(el("p", { className: "notice", "data-kind": "error", text: result.reason?.message ?? String(result.reason) }));
  }
  return null;
}
