// @ts-check
// Events: a day's timeline with filters, thumbnails, clip playback, keep, delete and download.

import { ApiError, del, get, patch } from "./api.js";
import { button, clear, el, field, formatTime, isoDay, notify, plural } from "./dom.js";
import { siteEvents } from "./site.js";

const DAY = 86400;

function dayBounds(day) {
  const [y, m, d] = day.split("-").map(Number);
  const start = new Date(y, m - 1, d).getTime() / 1000;
  const end = new Date(y, m - 1, d + 1).getTime() / 1000; // DST days are 23 or 25 hours
  return [start, end];
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== "" && value !== null && value !== undefined) search.set(key, value);
  return search.toString();
}

function eventTitle(event) {
  return `${event.label || event.kind} on ${event.camera_name ?? event.camera}`;
}

/** "87%" for an object event's best score, "" for motion. */
export function scoreText(event) {
  return event.kind === "object" && Number.isFinite(event.top_score) ? `${Math.round(event.top_score * 100)}%` : "";
}

/** When the story began: the motion an object event grew out of, else the event itself. */
function storyStart(event) {
  return Number.isFinite(event.story_start) ? event.story_start : event.start;
}

/** The event's thumbnail. A picture still being written (the event just began) is asked for
 * again; one that cannot be had (withheld by face blur, footage locked) says so in words. */
export function thumbnail(event) {
  const source = `/api/events/${encodeURIComponent(event.id)}/thumbnail.jpg`;
  const img = el("img", {
    src: source,
    alt: `${event.label || event.kind} at ${formatTime(event.start)}`,
    width: 96,
    height: 54,
    loading: "lazy",
    "data-testid": "event-thumbnail",
  });
  let retried = false;
  img.addEventListener("error", () => {
    if (!retried) {
      retried = true;
      setTimeout(() => (img.src = `${source}?retry=1`), 1500);
      return;
    }
    img.replaceWith(
      el("span", { className: "thumb-none", "data-testid": "event-thumbnail-none", text: event.label || event.kind, title: "No picture for this event" }),
    );
  });
  return img;
}

function zoneChips(event) {
  return (event.zones ?? []).map((zone) => el("span", { className: "chip", "data-testid": "event-zone", text: zone }));
}

export async function render(container, ctx, params) {
  const state = { day: isoDay(new Date()), camera: "", label: "", zone: "", selected: null, events: [] };
  const param = params[0] ?? "";
  if (/^\d{4}-\d{2}-\d{2}$/.test(param)) state.day = param;
  else if (param) state.selected = param;

  const { cameras } = await get("/api/cameras");
  const names = Object.fromEntries(cameras.map((c) => [c.id, c.name]));

  const dayInput = el("input", { type: "date", value: state.day, name: "day" });
  const cameraSelect = el(
    "select",
    { name: "camera" },
    el("option", { value: "", text: "All cameras" }),
    cameras.map((c) => el("option", { value: c.id, text: c.name })),
  );
  const labelInput = el("input", { name: "label", list: "event-labels", placeholder: "person, car, motion…" });
  const zoneInput = el("input", { name: "zone", list: "event-zones" });
  const labels = el("datalist", { id: "event-labels" });
  const zones = el("datalist", { id: "event-zones" });
  const filters = el(
    "form",
    { className: "filters", "aria-label": "Filter events", "data-testid": "event-filters" },
    field("Day", dayInput),
    field("Camera", cameraSelect),
    field("Label", labelInput),
    field("Zone", zoneInput),
    labels,
    zones,
  );
  const summary = el("p", { className: "muted", role: "status", "data-testid": "events-summary" });
  const timeline = el("div", { className: "timeline", "data-testid": "timeline", role: "group", "aria-label": "Events on this day by time" });
  const list = el("ul", { className: "event-list", "data-testid": "event-list" });
  const detail = el("section", { className: "event-detail card", "data-testid": "event-detail", hidden: true, "aria-live": "polite" });
  container.append(el("h1", { tabindex: "-1", text: "Events" }), filters, summary, timeline, el("div", { className: "events-layout" }, list, detail));

  async function load() {
    const [start, end] = dayBounds(state.day);
    const filter = { camera: state.camera, label: state.label, zone: state.zone };
    const [{ events }, recordings] = await Promise.all([
      get(`/api/events?${query({ ...filter, start, end, limit: 500 })}`),
      get(`/api/recordings?${query({ camera: state.camera, start, end })}`).catch(() => ({ ranges: [] })),
    ]);
    state.events = events.map((e) => ({ ...e, camera_name: names[e.camera] }));
    clear(
      labels,
      [...new Set(state.events.map((e) => e.label).filter(Boolean))].map((v) => el("option", { value: v })),
    );
    clear(
      zones,
      [...new Set(state.events.flatMap((e) => e.zones ?? []))].map((v) => el("option", { value: v })),
    );
    summary.textContent = `${plural(state.events.length, "event")} on ${new Date(start * 1000).toLocaleDateString()}`;
    drawTimeline(start, recordings.ranges ?? []);
    drawList();
  }

  function drawTimeline(start, ranges) {
    const pct = (t) => `${Math.min(100, Math.max(0, ((t - start) / DAY) * 100)).toFixed(3)}%`;
    const width = (a, b) => `${Math.max(0.2, ((Math.min(b, start + DAY) - Math.max(a, start)) / DAY) * 100).toFixed(3)}%`;
    const hours = [0, 6, 12, 18].map((h) => {
      const label = el("span", { className: "hour", text: `${String(h).padStart(2, "0")}:00` });
      label.style.left = `${(h / 24) * 100}%`;
      return label;
    });
    const recorded = ranges.map((r) => {
      const [a, b] = Array.isArray(r) ? r : [r.start, r.end];
      const node = el("span", { className: "recorded", "aria-hidden": "true" });
      node.style.left = pct(a);
      node.style.width = width(a, b ?? a);
      return node;
    });
    const marks = state.events.map((event) => {
      const mark = button("", () => select(event.id), {
        className: "mark",
        "data-testid": "timeline-mark",
        "data-kind": event.kind,
        "aria-label": `${eventTitle(event)} at ${formatTime(storyStart(event))}`,
      });
      mark.style.left = pct(storyStart(event));
      return mark;
    });
    clear(timeline, el("div", { className: "track" }, recorded, marks), el("div", { className: "hours", "aria-hidden": "true" }, hours));
  }

  function drawList() {
    clear(
      list,
      state.events.length
        ? state.events.map((event) =>
            el(
              "li",
              { className: "event-row", "data-event": event.id, "aria-current": event.id === state.selected ? "true" : null },
              thumbnail(event),
              button(
                [
                  el("strong", { "data-testid": "event-label", text: event.label || event.kind }),
                  scoreText(event) ? el("span", { className: "score", "data-testid": "event-score", text: scoreText(event) }) : null,
                  ` · ${event.camera_name ?? event.camera} · ${formatTime(storyStart(event))}`,
                  ...zoneChips(event),
                  event.keep ? el("span", { className: "badge", "data-tone": "info", text: "kept" }) : null,
                ],
                () => select(event.id),
                { className: "link-button", "data-testid": "event-item" },
              ),
            ),
          )
        : el("li", { className: "muted", text: "No events match." }),
    );
  }

  async function select(id) {
    state.selected = id;
    let event = state.events.find((e) => e.id === id);
    if (!event) {
      event = await get(`/api/events/${encodeURIComponent(id)}`).catch(() => null);
    }
    for (const row of list.querySelectorAll(".event-row")) row.toggleAttribute("aria-current", row.dataset.event === id);
    if (!event) {
      detail.hidden = true;
      return;
    }
    showDetail(event);
    // On a phone the clip opens below the list: bring it into view (the list's place is kept
    // by the browser's back gesture being a scroll, not a navigation).
    const box = detail.getBoundingClientRect();
    const clip = detail.querySelector("video")?.getBoundingClientRect();
    if (box.top < 0 || box.top > innerHeight * 0.5 || (clip && clip.bottom > innerHeight)) {
      detail.scrollIntoView({ block: "start", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    }
  }

  function showDetail(event) {
    const base = `/api/events/${encodeURIComponent(event.id)}`;
    const clipStatus = el("p", { className: "muted", role: "status", "data-testid": "clip-status" });
    const video = el("video", {
      controls: true,
      preload: "metadata",
      playsinline: true,
      src: `${base}/clip.mp4`,
      "data-testid": "clip",
      poster: `${base}/snapshot.jpg`,
    });
    video.addEventListener("error", () => {
      clipStatus.textContent = event.end == null ? "The clip is made when the event ends." : "No recording covers this event.";
    });
    const keep = !ctx.isAdmin()
      ? null
      : button(
          event.keep ? "Kept (click to release)" : "Keep",
          async () => {
            try {
              const answer = await patch(base, { keep: !event.keep });
              event.keep = answer.keep ?? !event.keep;
              keep.textContent = event.keep ? "Kept (click to release)" : "Keep";
              keep.setAttribute("aria-pressed", String(event.keep));
              drawList();
            } catch (error) {
              notify(`Could not change keep: ${error.message}`, "error");
            }
          },
          { "aria-pressed": String(Boolean(event.keep)), "data-testid": "keep" },
        );
    const remove = ctx.isAdmin()
      ? button(
          "Delete",
          async () => {
            if (!confirm(`Delete this ${event.label || event.kind} event and its footage clip?`)) return;
            try {
              await del(base);
              state.events = state.events.filter((e) => e.id !== event.id);
              detail.hidden = true;
              drawList();
              notify("Event deleted.", "ok");
            } catch (error) {
              notify(`Could not delete: ${error instanceof ApiError ? error.message : error}`, "error");
            }
          },
          { className: "danger", "data-testid": "delete-event" },
        )
      : null;
    // A second or more of motion before the object was recognised is worth saying.
    const began =
      event.start - storyStart(event) >= 1
        ? el("p", {
            className: "muted",
            "data-testid": "event-story",
            text: `Began as motion at ${formatTime(storyStart(event))}; the ${event.label} was seen at ${formatTime(event.start)}.`,
          })
        : null;
    clear(
      detail,
      el("h2", { text: eventTitle(event) }),
      el(
        "p",
        { className: "muted", "data-testid": "event-facts" },
        `${formatTime(event.start, true)}${event.end ? ` – ${formatTime(event.end)}` : " (going on)"}`,
        scoreText(event) ? ` · best score ${scoreText(event)}` : "",
        event.zones?.length ? " · zones: " : "",
        zoneChips(event),
      ),
      began,
      video,
      clipStatus,
      el(
        "p",
        { className: "toolbar" },
        keep,
        el(
          "a",
          { className: "button", href: `${base}/clip.mp4?download=1`, download: `${event.camera}-${event.id}.mp4`, "data-testid": "download" },
          "Download",
        ),
        remove,
      ),
    );
    detail.hidden = false;
  }

  filters.addEventListener("change", () => {
    state.day = dayInput.value || isoDay(new Date());
    state.camera = cameraSelect.value;
    state.label = labelInput.value.trim();
    state.zone = zoneInput.value.trim();
    load().catch((error) => notify(error.message, "error"));
  });
  filters.addEventListener("submit", (e) => e.preventDefault());

  if (state.selected) {
    const event = await get(`/api/events/${encodeURIComponent(state.selected)}`).catch(() => null);
    if (event) dayInput.value = state.day = isoDay(new Date(event.start * 1000));
  }
  await load();
  if (state.selected) await select(state.selected);
  const site = await siteEvents(ctx);
  if (site) container.append(site.section);

  let reloadTimer = 0;
  const onEvent = (message) => {
    const type = message.detail?.event_type ?? "";
    if (!/^(object|motion|event|onvif)/.test(type)) return;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => load().catch(() => {}), 500);
  };
  ctx.events.addEventListener("hub-event", onEvent);
  return () => {
    clearTimeout(reloadTimer);
    site?.stop();
    ctx.events.removeEventListener("hub-event", onEvent);
  };
}
