// The site: other hubs on this hub's broker. Their cameras (latest still) on the Live page and
// their recent events (thumbnail) on the Events page; footage opens in the peer's own panel.

import { get } from "./api.js";
import { badge, clear, el, formatTime } from "./dom.js";

function peerLink(url, text, testId) {
  return url
    ? el("a", { href: url, target: "_blank", rel: "noopener", "data-testid": testId, text })
    : el("span", { className: "muted", text: "no panel address" });
}

function stillOf(camera, hubName) {
  const box = el("div", { className: "player" });
  if (camera.still_url) box.append(el("img", { src: `${camera.still_url}?t=${camera.still_at ?? 0}`, alt: `${camera.name} on ${hubName}, latest picture` }));
  else box.append(el("span", { className: "thumb-none", "aria-hidden": "true" }));
  return box;
}

function peerSection(peer) {
  const state = peer.online ? "online" : "offline";
  const tiles = peer.cameras.map((camera) =>
    el(
      peer.online && camera.panel_url ? "a" : "div",
      {
        className: "tile",
        href: peer.online ? camera.panel_url : null,
        target: "_blank",
        rel: "noopener",
        "data-testid": "peer-tile",
        "data-hub": peer.name,
        "data-camera": camera.id,
      },
      stillOf(camera, peer.name),
      el(
        "span",
        { className: "tile-caption" },
        el("span", { className: "tile-name", text: camera.name }),
        badge(peer.online ? camera.state : "offline", "camera-state"),
      ),
    ),
  );
  return el(
    "section",
    { className: "peer", "data-testid": "peer", "data-hub": peer.name, "data-state": state, "aria-label": `Hub ${peer.name}` },
    el("h3", {}, peer.name, " ", badge(state, "peer-state"), " ", peerLink(peer.online ? peer.panel_url : null, "open its panel", "peer-panel")),
    tiles.length
      ? el("div", { className: "live-grid" }, tiles)
      : el("p", { className: "muted", text: peer.online ? "No cameras." : "Not heard from: it may be off or away from the broker." }),
  );
}

/** Whether the site section should be drawn at all (admins, a site configured). */
async function siteOrNull(ctx) {
  if (!ctx.isAdmin()) return null;
  const site = await get("/api/site").catch(() => null);
  return site?.enabled ? site : null;
}

/** Redraw `draw()` when peers change, at most every 300 ms (a busy peer sends news faster
 * than that, and a debounce would then never draw); returns the function that stops. */
function followPeers(ctx, draw) {
  let timer = 0;
  const onEvent = (message) => {
    if (!/^peer_/.test(message.detail?.event_type ?? "") || timer) return;
    timer = setTimeout(() => {
      timer = 0;
      draw().catch(() => {});
    }, 300);
  };
  ctx.events.addEventListener("hub-event", onEvent);
  return () => {
    clearTimeout(timer);
    ctx.events.removeEventListener("hub-event", onEvent);
  };
}

/** The Live page's "Other hubs" section: each peer with its cameras, or null without a site. */
export async function siteCameras(ctx) {
  const first = await siteOrNull(ctx);
  if (!first) return null;
  const body = el("div", { "data-testid": "site-peers" });
  const section = el(
    "section",
    { className: "site", "aria-labelledby": "site-title" },
    el("h2", { id: "site-title", text: `Other hubs of ${first.site}` }),
    body,
  );
  const draw = async (site) => {
    site ??= await get("/api/site");
    clear(body, site.peers.length ? site.peers.map(peerSection) : el("p", { className: "muted", text: "No other hub has announced itself yet." }));
  };
  await draw(first);
  return { section, stop: followPeers(ctx, () => draw()) };
}

function peerEventRow(event) {
  const thumb = event.thumbnail_url
    ? el("img", { src: event.thumbnail_url, alt: "", width: 96, height: 54, loading: "lazy" })
    : el("span", { className: "thumb-none", "aria-hidden": "true" });
  const text = `${event.label || event.kind} · ${event.hub} / ${event.camera} · ${formatTime(event.start)}`;
  return el(
    "li",
    { className: "event-row", "data-testid": "peer-event", "data-hub": event.hub, "data-event": event.event_id },
    thumb,
    event.hub_online && event.panel_url ? el("a", { href: event.panel_url, target: "_blank", rel: "noopener", text }) : el("span", { text }),
    event.hub_online ? null : badge("offline", "peer-state"),
  );
}

/** The Events page's "Other hubs" section: peers' recent events, or null without a site. */
export async function siteEvents(ctx) {
  const first = await siteOrNull(ctx);
  if (!first) return null;
  const list = el("ul", { className: "event-list", "data-testid": "peer-events" });
  const section = el(
    "section",
    { className: "site", "aria-labelledby": "site-events-title" },
    el("h2", { id: "site-events-title", text: `Other hubs of ${first.site}` }),
    list,
  );
  const draw = async () => {
    const { events } = await get("/api/site/events");
    clear(list, events.length ? events.map(peerEventRow) : el("li", { className: "muted", text: "No events from other hubs." }));
  };
  await draw();
  return { section, stop: followPeers(ctx, draw) };
}
