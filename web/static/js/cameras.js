// @ts-check
// Cameras: state, frame rate and drops; adding discovered devices or by URL; zones and masks.

import { ApiError, del, get, patch, post, put } from "./api.js";
import { badge, button, clear, dataTable, el, field, notify, plural } from "./dom.js";
import { showFieldErrors } from "./forms.js";
import { toYaml } from "./yaml.js";

const REFRESH_MS = 5000;

function statsRow(camera, rate, ctx, reload, edit) {
  const stats = camera.stats ?? {};
  const drops = (camera.detect_frames?.dropped ?? 0) + (stats.bad_packets ?? 0);
  return el(
    "tr",
    { "data-camera": camera.id, "data-testid": "camera-row" },
    el(
      "th",
      { scope: "row" },
      el("a", { href: `#/live/${encodeURIComponent(camera.id)}`, text: camera.name }),
      camera.detect_url ? el("div", { className: "hint", "data-testid": "camera-detect-url", text: `detection: ${camera.detect_url}` }) : null,
    ),
    el("td", { "data-label": "State" }, badge(camera.state, "camera-state"), camera.reason ? el("div", { className: "hint", text: camera.reason }) : null),
    el("td", { "data-label": "Detection" }, detectionSwitch(camera, ctx, reload)),
    el("td", { "data-label": "Recording", text: camera.record_mode }),
    objectsCell(camera.objects),
    el("td", { "data-label": "Frames/s", "data-testid": "camera-fps", text: rate === null ? "—" : rate.toFixed(1) }),
    el("td", { "data-label": "Drops", "data-testid": "camera-drops", text: String(drops) }),
    el("td", { "data-label": "Video", text: stats.resolution?.[0] ? `${stats.resolution[0]}×${stats.resolution[1]} ${stats.codec ?? ""}` : "—" }),
    el(
      "td",
      { className: "row-actions" },
      button("Zones", () => (location.hash = `#/cameras/${encodeURIComponent(camera.id)}/zones`), { "aria-label": `Zones of ${camera.name}` }),
      ctx.isAdmin() && camera.removable ? button("Edit", () => edit(camera), { "aria-label": `Edit ${camera.name}` }) : null,
      ctx.isAdmin() && camera.removable
        ? button("Remove", () => removeCamera(camera, reload), { className: "danger", "aria-label": `Remove ${camera.name}` })
        : null,
    ),
  );
}

/** Detection on/off: a checkbox for admins (kept across restarts, like Home Assistant's switch), a badge for others. */
function detectionSwitch(camera, ctx, reload) {
  const state = camera.armed ? "on" : "off";
  if (!ctx.isAdmin()) return badge(state, "camera-detection");
  const toggle = el("input", { type: "checkbox", checked: camera.armed, "aria-label": `Detection of ${camera.name}`, "data-testid": "camera-detection" });
  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    try {
      await put(`/api/cameras/${encodeURIComponent(camera.id)}/detection`, { armed: toggle.checked });
      notify(`Detection of ${camera.name} switched ${toggle.checked ? "on" : "off"}.`, "ok");
      await reload();
    } catch (error) {
      notify(error.message, "error");
      toggle.checked = camera.armed;
      toggle.disabled = false;
    }
  });
  return el("label", { className: "inline" }, toggle, " ", state);
}

/** Which detector looks for objects on this camera, and what for; or why none does. */
function objectsCell(objects) {
  if (!objects) return el("td", { text: "—" });
  const what = objects.detector ? `${objects.detector}${objects.model ? `: ${objects.model}` : ""} · ${objects.labels.join(", ")}` : objects.reason;
  return el(
    "td",
    { "data-label": "Objects", "data-testid": "camera-objects" },
    badge(objects.state, "camera-objects-state"),
    el("div", { className: "hint", "data-testid": "camera-detector", text: objects.state === "failed" ? objects.reason : what }),
  );
}

async function removeCamera(camera, reload) {
  if (!confirm(`Remove the camera ${camera.name}? Its recordings stay until they age out.`)) return;
  try {
    await del(`/api/cameras/${encodeURIComponent(camera.id)}`);
    notify(`Removed ${camera.name}.`, "ok");
    await reload();
  } catch (error) {
    notify(error.message, "error");
  }
}

async function renderList(container, ctx) {
  container.append(el("h1", { tabindex: "-1", text: "Cameras" }));
  const body = el("tbody");
  container.append(
    dataTable(
      ["Camera", "State", "Detection", "Recording", "Objects", "Frames/s", "Drops", "Video", ""],
      { className: "stack-on-phone", "data-testid": "camera-table" },
      body,
      "Cameras and their state",
    ),
  );
  const editor = el("section", { hidden: true, "aria-labelledby": "edit-title", "data-testid": "camera-editor" });
  container.append(editor);
  const edit = (camera) => openEditor(editor, camera, load);
  let previous = new Map();
  const load = async () => {
    const { cameras } = await get("/api/cameras");
    const now = performance.now();
    const next = new Map();
    clear(
      body,
      cameras.map((camera) => {
        const packets = camera.stats?.frames_decoded || camera.stats?.packets || 0;
        next.set(camera.id, [now, packets]);
        const before = previous.get(camera.id);
        const rate = before && now > before[0] ? ((packets - before[1]) * 1000) / (now - before[0]) : null;
        return statsRow(camera, rate, ctx, load, edit);
      }),
    );
    previous = next;
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  if (ctx.isAdmin()) container.append(el("div", { className: "grid-2" }, await discoverySection(ctx), urlSection(load)));
  return () => clearInterval(timer);
}

const withoutLogin = (url) => (url ?? "").replace(/^([a-z]+:\/\/)[^@/]*@/i, "$1");

/** The form that changes an added camera: name, detection stream, recording, motion source. */
function openEditor(section, camera, reload) {
  const name = el("input", { name: "name", value: camera.name === camera.id ? "" : camera.name });
  const detectUrl = el("input", { name: "detect_url", type: "url", autocapitalize: "none", value: withoutLogin(camera.detect_url) });
  const record = el(
    "select",
    { name: "record_mode" },
    ["events", "continuous", "off"].map((m) => el("option", { value: m, text: m, selected: m === camera.record_mode })),
  );
  const status = el("p", { className: "form-status", role: "alert" });
  const close = () => ((section.hidden = true), clear(section));
  const form = el(
    "form",
    { novalidate: true, "data-testid": "edit-camera-form" },
    field("Name", name, { path: "name" }),
    field("Detection stream URL", detectUrl, {
      path: "detect_url",
      hint: "A smaller sub-stream decoded for motion and objects; empty: the main stream. The camera's login is used.",
    }),
    field("Recording", record, { path: "record_mode" }),
    status,
    el("p", { className: "toolbar" }, el("button", { type: "submit", className: "primary", text: "Save" }), button("Cancel", close)),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    showFieldErrors(form, []);
    const body = { name: name.value.trim() || null, detect_url: detectUrl.value.trim() || null, record_mode: record.value };
    try {
      const answer = await patch(`/api/cameras/${encodeURIComponent(camera.id)}`, body);
      notify(answer.restarted ? `Saved ${camera.id}; its stream restarted.` : `Saved ${camera.id}.`, "ok");
      close();
      await reload();
    } catch (error) {
      const rest = error instanceof ApiError ? showFieldErrors(form, error.fieldErrors) : [];
      if (!(error instanceof ApiError) || error.fieldErrors.length === 0 || rest.length) status.textContent = error.message;
    }
  });
  clear(section, el("h2", { id: "edit-title", text: `Edit ${camera.name}` }), form);
  section.hidden = false;
  detectUrl.focus();
}

function urlSection(reload) {
  const input = (name, attrs = {}) => el("input", { name, autocapitalize: "none", autocomplete: "off", ...attrs });
  const id = input("id");
  const name = input("name");
  const url = input("url", { type: "url", placeholder: "rtsp://user:password@192.168.1.20:554/stream1" });
  const detectUrl = input("detect_url", { type: "url" });
  const record = el(
    "select",
    { name: "record_mode" },
    ["events", "continuous", "off"].map((m) => el("option", { value: m, text: m })),
  );
  const status = el("p", { className: "form-status", role: "alert" });
  const form = el(
    "form",
    { novalidate: true, "data-testid": "add-url-form", "aria-labelledby": "url-title" },
    field("Camera id", id, { path: "id", hint: "Lower-case letters, digits and _; used in URLs." }),
    field("Name", name, { path: "name" }),
    field("Stream URL", url, { path: "url", hint: "rtsp://, rtsps://, http(s):// or demo://. A user and password in it are kept in the hub's secrets." }),
    field("Detection stream URL (optional)", detectUrl, { path: "detect_url", hint: "A smaller sub-stream for motion and objects." }),
    field("Recording", record, { path: "record_mode" }),
    status,
    el("button", { type: "submit", className: "primary", text: "Add camera" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    showFieldErrors(form, []);
    const body = {
      id: id.value.trim(),
      name: name.value.trim() || undefined,
      url: url.value.trim(),
      detect_url: detectUrl.value.trim() || undefined,
      record_mode: record.value,
    };
    try {
      await post("/api/cameras", body);
      notify(`Added ${body.id}.`, "ok");
      form.reset();
      await reload();
    } catch (error) {
      const rest = error instanceof ApiError ? showFieldErrors(form, error.fieldErrors) : [];
      if (!(error instanceof ApiError) || error.fieldErrors.length === 0 || rest.length) status.textContent = error.message;
    }
  });
  return el(
    "section",
    { "aria-labelledby": "url-title" },
    el("h2", { id: "url-title", text: "Add by URL" }),
    el("p", { className: "muted", text: "For cameras discovery does not find: type the stream address." }),
    form,
  );
}

async function discoverySection(ctx) {
  const list = el("ul", { className: "event-list", "data-testid": "discovered" });
  const status = el("p", { className: "muted", role: "status" });
  const section = el("section", { "aria-labelledby": "discovery-title" }, el("h2", { id: "discovery-title", text: "Cameras on your network" }), status, list);
  const draw = (devices) => {
    status.textContent = devices.length ? plural(devices.length, "device") + " found." : "Nothing found yet. Scan to look for cameras (ONVIF and mDNS).";
    clear(
      list,
      devices.map((device) => deviceItem(device, ctx)),
    );
  };
  const scan = button("Scan the network", async () => {
    scan.disabled = true;
    status.textContent = "Scanning for 5 seconds…";
    try {
      draw((await get("/api/discovery?scan=5")).devices ?? []);
    } catch (error) {
      status.textContent = `Scan failed: ${error.message}`;
    } finally {
      scan.disabled = false;
    }
  });
  section.append(el("p", {}, scan));
  draw((await get("/api/discovery").catch(() => ({ devices: [] }))).devices ?? []);
  return section;
}

function deviceItem(device, ctx) {
  const item = el("li", { className: "card", "data-testid": "discovered-device" });
  const title = `${device.name || device.model || "Camera"} at ${device.host ?? "?"}`;
  const open = button("Add…", () => {
    open.hidden = true;
    item.append(addForm(device, ctx, () => (open.hidden = false)));
  });
  item.append(el("strong", { text: title }), " ", el("span", { className: "muted", text: `(${device.source ?? "discovery"})` }), " ");
  if (device.configured) item.append(el("span", { className: "badge", "data-tone": "ok", text: `added as ${device.camera}` }));
  else if (!device.onvif_url) item.append(el("span", { className: "muted", text: "no ONVIF service: add it by its stream URL in the config file" }));
  else item.append(open);
  return item;
}

function addForm(device, ctx, onClose) {
  const suggested = (device.name || device.host || "camera")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_|_$/g, "");
  const id = el("input", { name: "camera_id", value: suggested.slice(0, 64), autocapitalize: "none" });
  const name = el("input", { name: "name", value: device.name ?? "" });
  const username = el("input", { name: "username", autocomplete: "off", autocapitalize: "none" });
  const password = el("input", { name: "password", type: "password", autocomplete: "new-password" });
  const record = el(
    "select",
    { name: "record_mode" },
    ["events", "continuous", "off"].map((m) => el("option", { value: m, text: m })),
  );
  const status = el("p", { className: "form-status", role: "alert" });
  const form = el(
    "form",
    { novalidate: true, "data-testid": "add-camera-form" },
    field("Camera id", id, { path: "camera_id", hint: "Lower-case letters, digits and _; used in URLs." }),
    field("Name", name, { path: "name" }),
    field("Camera user name", username, { path: "username" }),
    field("Camera password", password, { path: "password", hint: "Stored in the hub's secrets, never shown again." }),
    field("Recording", record, { path: "record_mode", hint: "events: around motion and objects; continuous: always." }),
    status,
    el(
      "p",
      { className: "toolbar" },
      el("button", { type: "submit", className: "primary", text: "Add camera" }),
      button("Cancel", () => (form.remove(), onClose())),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "";
    try {
      const body = {
        camera_id: id.value.trim() || undefined,
        name: name.value.trim() || undefined,
        username: username.value,
        password: password.value,
        record_mode: record.value,
      };
      const added = await post(`/api/discovery/${encodeURIComponent(device.id)}/add`, body);
      const notes = added?.device?.notes ?? [];
      notify(
        notes.length
          ? `Added ${added.camera.id}; the camera answered some questions badly: ${notes.join(" · ")}`
          : `Added ${added?.camera?.id ?? body.camera_id}.`,
        notes.length ? "info" : "ok",
      );
      ctx.navigate("#/cameras");
    } catch (error) {
      const rest = error instanceof ApiError ? showFieldErrors(form, error.fieldErrors) : [];
      if (!(error instanceof ApiError) || error.fieldErrors.length === 0 || rest.length) status.textContent = error.message;
    }
  });
  return form;
}

// ---------------------------------------------------------------- zones

async function renderZones(container, ctx, cameraId) {
  const data = await get(`/api/cameras/${encodeURIComponent(cameraId)}/zones`);
  const shapes = [
    ...Object.entries(data.zones ?? {}).map(([name, zone]) => ({ kind: "zone", name, points: zone.points, labels: zone.labels ?? [] })),
    ...(data.masks ?? []).map((points, i) => ({ kind: "mask", name: `mask ${i + 1}`, points })),
    ...(data.privacy_masks ?? []).map((points, i) => ({ kind: "privacy", name: `privacy ${i + 1}`, points })),
  ];
  const KIND_NAMES = { zone: "Zone", mask: "Mask", privacy: "Privacy mask" };
  let active = null;
  const img = el("img", { src: `/api/cameras/${encodeURIComponent(cameraId)}/snapshot.jpg?t=${Date.now()}`, alt: `Current picture of ${cameraId}` });
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", "0 0 1 1");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Zones and masks drawn over the picture");
  const list = el("ul", { className: "event-list", "data-testid": "zone-list" });
  const yaml = el("pre", { className: "yaml card", "data-testid": "zone-yaml" });

  const draw = () => {
    svg.replaceChildren();
    for (const shape of shapes) {
      const polygon = document.createElementNS(svgNs, "polygon");
      polygon.setAttribute("points", shape.points.map((p) => p.join(",")).join(" "));
      polygon.setAttribute("class", `${shape.kind}${shape === active ? " active" : ""}`);
      svg.append(polygon);
      if (shape === active) {
        for (const [x, y] of shape.points) {
          const dot = document.createElementNS(svgNs, "circle");
          dot.setAttribute("cx", x);
          dot.setAttribute("cy", y);
          dot.setAttribute("r", "0.008");
          svg.append(dot);
        }
      }
    }
    clear(
      list,
      shapes.map((shape) =>
        el(
          "li",
          { className: "event-row", "data-testid": "zone-item" },
          button(`${KIND_NAMES[shape.kind]}: ${shape.name} (${plural(shape.points.length, "corner")})`, () => ((active = shape), draw()), {
            className: "link-button",
            "aria-pressed": String(shape === active),
          }),
          button("Remove", () => (shapes.splice(shapes.indexOf(shape), 1), (active = null), draw()), { "aria-label": `Remove ${shape.name}` }),
          errors.get(shape) ? el("p", { className: "field-error", role: "alert", text: errors.get(shape) }) : null,
        ),
      ),
    );
    yaml.textContent = toYaml({ cameras: { [cameraId]: saved() } });
  };
  const saved = () => ({
    zones: Object.fromEntries(
      shapes.filter((s) => s.kind === "zone").map((s) => [s.name, s.labels.length ? { points: s.points, labels: s.labels } : { points: s.points }]),
    ),
    masks: shapes.filter((s) => s.kind === "mask").map((s) => s.points),
    privacy_masks: shapes.filter((s) => s.kind === "privacy").map((s) => s.points),
  });
  // Errors come back by path (zones.<name>..., masks.<n>...): shown beside the shape.
  let errors = new Map();
  const shapeAt = (path) => {
    const [key, which] = path.split(".");
    if (key === "zones") return shapes.find((s) => s.kind === "zone" && s.name === which);
    const kind = key === "masks" ? "mask" : key === "privacy_masks" ? "privacy" : null;
    return shapes.filter((s) => s.kind === kind)[Number(which)];
  };
  const status = el("p", { className: "form-status", role: "alert", "data-testid": "zone-status" });
  const save = button(
    "Save",
    async () => {
      errors = new Map();
      status.textContent = "";
      save.disabled = true;
      try {
        const answer = await put(`/api/cameras/${encodeURIComponent(cameraId)}/zones`, saved());
        notify(answer.restarted ? "Saved. The camera's stream restarted to apply the privacy masks." : "Saved and in use.", "ok");
      } catch (error) {
        const rest = [];
        for (const item of error instanceof ApiError ? error.fieldErrors : []) {
          const shape = shapeAt(item.path);
          if (shape) errors.set(shape, `${errors.has(shape) ? `${errors.get(shape)}; ` : ""}${item.message}`);
          else rest.push(item);
        }
        status.textContent = rest.length || !errors.size ? error.message : "Some shapes need fixing (see the list).";
      } finally {
        save.disabled = false;
        draw();
      }
    },
    { className: "primary", hidden: !ctx.isAdmin() },
  );

  svg.addEventListener("click", (event) => {
    if (!active) return;
    const box = svg.getBoundingClientRect();
    const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;
    active.points.push([round((event.clientX - box.left) / box.width), round((event.clientY - box.top) / box.height)]);
    draw();
  });

  // Corners by number too, for keyboards and screen readers (the picture takes clicks only).
  const cornerX = el("input", { type: "number", name: "corner-x", min: 0, max: 1, step: 0.01, inputmode: "decimal" });
  const cornerY = el("input", { type: "number", name: "corner-y", min: 0, max: 1, step: 0.01, inputmode: "decimal" });
  const corner = el(
    "form",
    { className: "toolbar", "aria-label": "Add a corner to the chosen shape" },
    field("Corner x (0 left – 1 right)", cornerX),
    field("Corner y (0 top – 1 bottom)", cornerY),
    el("button", { type: "submit", text: "Add corner" }),
  );
  corner.addEventListener("submit", (event) => {
    event.preventDefault();
    const x = Number(cornerX.value);
    const y = Number(cornerY.value);
    if (!active) return notify("Choose or start a shape first.", "error");
    if (cornerX.value === "" || cornerY.value === "" || x < 0 || x > 1 || y < 0 || y > 1) return notify("Corners go from 0 to 1.", "error");
    active.points.push([x, y]);
    draw();
    cornerX.focus();
  });
  const newName = el("input", { name: "zone-name", placeholder: "driveway" });
  const newKind = el(
    "select",
    { name: "zone-kind" },
    el("option", { value: "zone", text: "Zone" }),
    el("option", { value: "mask", text: "Motion mask" }),
    el("option", { value: "privacy", text: "Privacy mask" }),
  );
  const add = el(
    "form",
    { className: "toolbar", "aria-label": "New shape" },
    field("Kind", newKind),
    field("Name", newName),
    el("button", { type: "submit", text: "Start drawing" }),
  );
  add.addEventListener("submit", (event) => {
    event.preventDefault();
    const kind = newKind.value;
    const name = newName.value.trim() || `${kind} ${shapes.length + 1}`;
    active = { kind, name, points: [], labels: [] };
    shapes.push(active);
    newName.value = "";
    draw();
    notify("Click on the picture to place each corner (at least 3).");
  });

  container.append(
    el("p", { className: "crumbs" }, el("a", { href: "#/cameras", text: "All cameras" })),
    el("h1", { tabindex: "-1", text: `Zones and masks: ${cameraId}` }),
    el(
      "div",
      { className: "grid-2" },
      el(
        "div",
        {},
        el("div", { className: "zone-editor", "data-testid": "zone-editor" }, img, svg),
        el("p", {
          className: "hint",
          text: "Choose a shape, then click to add corners. Corners are stored from 0 to 1, so they survive a change of resolution.",
        }),
      ),
      el("div", {}, list, add, corner, el("p", { className: "toolbar" }, save), status),
    ),
    el("h2", { text: "As YAML" }),
    el("p", {
      className: "hint",
      text: "Saved shapes are kept in the hub's data folder and replace the config file's zones and masks for this camera. Privacy masks black out the picture for recordings and viewers alike; saving them restarts the camera's stream.",
    }),
    yaml,
  );
  draw();
  return null;
}

export async function render(container, ctx, params) {
  if (params[0] && params[1] === "zones") return renderZones(container, ctx, params[0]);
  return renderList(container, ctx);
}
