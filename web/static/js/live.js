// @ts-check
// Live view: a grid of camera tiles; a tile opens one camera large with its recent events.

import { get } from "./api.js";
import { badge, button, clear, el, formatTime } from "./dom.js";
import { scoreText, thumbnail } from "./events.js";
import { LivePlayer } from "./player.js";
import { siteCameras } from "./site.js";

const MODE_TEXT = { connecting: "connecting…", mse: "live video", snapshot: "snapshots", error: "unavailable" };

function playerBox(camera) {
  const video = el("video", { muted: true, autoplay: true, playsinline: true, "aria-label": `${camera.name}, live video` });
  video.muted = true; // the attribute alone does not allow autoplay everywhere
  const img = el("img", { alt: `${camera.name}, latest picture`, hidden: true });
  return el("div", { className: "player" }, video, img);
}

function tile(camera, players) {
  const box = playerBox(camera);
  const mode = el("span", { className: "tile-mode", "data-testid": "tile-mode" });
  const link = el(
    "a",
    { className: "tile", href: `#/live/${encodeURIComponent(camera.id)}`, "data-testid": "live-tile", "data-camera": camera.id },
    box,
    el("span", { className: "tile-caption" }, el("span", { className: "tile-name", text: camera.name }), badge(camera.state, "camera-state"), mode),
  );
  if (camera.state === "disabled") {
    mode.textContent = "disabled";
    return link;
  }
  const player = new LivePlayer(camera.id, box, (value, reason) => {
    link.dataset.mode = value;
    mode.textContent = MODE_TEXT[value] ?? value;
    mode.title = reason;
  });
  players.push(player);
  player.start();
  return link;
}

/** Keeps tiles current: state badges from `camera.<id>` states, the grid itself when cameras come and go. */
function followStates(ctx, root) {
  const onEvent = (message) => {
    const event = message.detail;
    if (event.event_type === "camera_added" || event.event_type === "camera_removed") {
      ctx.navigate(location.hash || "#/live"); // draw the grid again
      return;
    }
    if (event.event_type !== "state_changed" || !event.entity_id?.startsWith("camera.")) return;
    const id = event.entity_id.slice("camera.".length);
    for (const holder of root.querySelectorAll(`[data-camera="${CSS.escape(id)}"]`)) {
      holder.querySelector('[data-testid="camera-state"]')?.replaceWith(badge(event.new_state, "camera-state"));
    }
  };
  ctx.events.addEventListener("hub-event", onEvent);
  return () => ctx.events.removeEventListener("hub-event", onEvent);
}

async function renderGrid(container, ctx) {
  const players = [];
  container.append(el("h1", { tabindex: "-1", text: "Live" }));
  const grid = el("div", { className: "live-grid", "data-testid": "live-grid" });
  container.append(grid);
  const { cameras } = await get("/api/cameras");
  if (!cameras.length) {
    grid.append(
      el(
        "div",
        { className: "empty-state" },
        el("h2", { text: "No cameras yet" }),
        el("p", {}, "Add one under ", el("a", { href: "#/cameras", text: "Cameras" }), "."),
      ),
    );
  }
  for (const camera of cameras) grid.append(tile(camera, players));
  const unfollow = followStates(ctx, grid);
  const site = await siteCameras(ctx);
  if (site) container.append(site.section);
  return () => {
    unfollow();
    site?.stop();
    players.forEach((p) => p.stop());
  };
}

function eventItem(event) {
  const when = formatTime(event.story_start ?? event.start);
  const score = scoreText(event);
  return el(
    "li",
    { className: "event-row" },
    thumbnail(event),
    el("a", { href: `#/events/${encodeURIComponent(event.id)}` }, `${event.label ?? event.kind}${score ? ` (${score})` : ""} at ${when}`),
  );
}

async function renderCamera(container, ctx, cameraId) {
  const { cameras } = await get("/api/cameras");
  const camera = cameras.find((c) => c.id === cameraId);
  if (!camera) {
    container.append(el("h1", { tabindex: "-1", text: "No such camera" }), el("a", { href: "#/live", text: "Back to all cameras" }));
    return null;
  }
  const box = playerBox(camera);
  box.classList.add("player-large");
  const mode = el("span", { className: "tile-mode", "data-testid": "tile-mode" });
  const stage = el("div", { className: "stage", "data-testid": "camera-stage", "data-camera": camera.id }, box);
  const player = new LivePlayer(camera.id, box, (value, reason) => {
    stage.dataset.mode = value;
    mode.textContent = MODE_TEXT[value] ?? value;
    mode.title = reason;
  });
  const list = el("ul", { className: "event-list", "data-testid": "recent-events" });
  container.append(
    el("p", { className: "crumbs" }, el("a", { href: "#/live", text: "All cameras" })),
    el("h1", { tabindex: "-1" }, camera.name, " ", badge(camera.state, "camera-state")),
    el(
      "div",
      { className: "camera-detail" },
      el(
        "div",
        {},
        stage,
        el(
          "p",
          { className: "toolbar" },
          mode,
          button("Full screen", () => stage.requestFullscreen?.().catch(() => {})),
        ),
      ),
      el("section", { "aria-labelledby": "recent-title" }, el("h2", { id: "recent-title", text: "Recent events" }), list),
    ),
  );
  player.start();
  const loadEvents = async () => {
    const { events } = await get(`/api/events?camera=${encodeURIComponent(camera.id)}&limit=20`);
    clear(list, events.length ? events.map(eventItem) : el("li", { className: "muted", text: "No events yet." }));
  };
  await loadEvents();
  const onEvent = (message) => {
    const event = message.detail;
    if (event.camera === camera.id && /^(object|motion|event)/.test(event.event_type ?? "")) loadEvents().catch(() => {});
  };
  ctx.events.addEventListener("hub-event", onEvent);
  return () => {
    player.stop();
    ctx.events.removeEventListener("hub-event", onEvent);
  };
}

/** Video stops while the tab is hidden (no bytes, no CPU on the hub) and starts again after. */
function whileVisible(ctx, cleanup) {
  const onChange = () => {
    if (document.hidden) {
      cleanup?.();
      cleanup = null;
    } else if (!cleanup) {
      ctx.navigate(location.hash); // render the view afresh
    }
  };
  document.addEventListener("visibilitychange", onChange);
  return () => {
    document.removeEventListener("visibilitychange", onChange);
    cleanup?.();
  };
}

export async function render(container, ctx, params) {
  const cleanup = params[0] ? await renderCamera(container, ctx, params[0]) : await renderGrid(container, ctx);
  return whileVisible(ctx, cleanup);
}
