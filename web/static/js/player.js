// @ts-check
// A live player: fragmented MP4 over a WebSocket into Media Source Extensions, else JPEG snapshots.

import { wsUrl } from "./api.js";

const MAX_PENDING = 120; // fragments waiting for the SourceBuffer; beyond it the tab is too slow
const KEEP_SECONDS = 20; // buffered video kept behind the playhead
const LIVE_LAG = 2.5; // jump to the live edge when further behind than this
const SNAPSHOT_MS = 1000;
const FIRST_VIDEO_MS = 15000; // a first viewer waits for the camera's next keyframe

function mediaSourceClass() {
  // Safari on iPhone has only the managed variant (not yet in TypeScript's DOM types).
  return /** @type {any} */ (window).ManagedMediaSource ?? window.MediaSource ?? null;
}

export class LivePlayer {
  /**
   * `root` holds a <video> and an <img>; `onMode` hears "connecting", "mse", "snapshot", "error".
   * @param {string} cameraId
   * @param {HTMLElement} root
   * @param {(mode: string, reason: string) => void} [onMode]
   */
  constructor(cameraId, root, onMode = () => {}) {
    this.cameraId = cameraId;
    this.video = root.querySelector("video");
    this.img = root.querySelector("img");
    this.onMode = onMode;
    this.pending = [];
    this.stopped = false;
    this.retries = 0;
    this.timers = new Set();
  }

  start() {
    if (mediaSourceClass()) this.connect();
    else this.fallback("this browser has no Media Source Extensions");
  }

  setMode(mode, reason = "") {
    this.mode = mode;
    this.video.hidden = mode === "snapshot";
    this.img.hidden = mode !== "snapshot";
    this.onMode(mode, reason);
  }

  connect() {
    this.setMode("connecting");
    const socket = new WebSocket(wsUrl(`/api/cameras/${encodeURIComponent(this.cameraId)}/live`));
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    // A camera whose stream cannot be re-wrapped sends nothing: do not wait for ever.
    this.later(() => {
      if (this.socket === socket && !this.mediaSource) this.fallback("no live video arrived");
    }, FIRST_VIDEO_MS);
    socket.addEventListener("message", (message) => {
      if (typeof message.data === "string") this.control(JSON.parse(message.data));
      else this.fragment(message.data);
    });
    socket.addEventListener("close", () => {
      if (this.stopped || this.socket !== socket || this.mode === "snapshot") return;
      // A hub restart or network blip: try live video again a few times, then snapshots.
      this.retries += 1;
      if (this.retries > 5) this.fallback("live video keeps failing");
      else this.later(() => this.connect(), 1000 * this.retries);
    });
  }

  control(message) {
    if (message.type === "unsupported") {
      return this.fallback(message.reason === "faces" ? "faces are blurred for viewers: pictures only" : "the camera's codec cannot play in a browser");
    }
    if (message.type !== "codec") return;
    const MediaSourceClass = mediaSourceClass();
    if (!MediaSourceClass.isTypeSupported(message.mime)) return this.fallback(`this browser cannot play ${message.codec}`);
    this.openMediaSource(MediaSourceClass, message.mime);
  }

  openMediaSource(MediaSourceClass, mime) {
    this.releaseMedia();
    this.pending = [];
    const mediaSource = new MediaSourceClass();
    this.mediaSource = mediaSource;
    this.objectUrl = URL.createObjectURL(mediaSource);
    this.video.disableRemotePlayback = true;
    this.video.src = this.objectUrl;
    mediaSource.addEventListener("sourceopen", () => {
      if (this.mediaSource !== mediaSource) return;
      try {
        this.buffer = mediaSource.addSourceBuffer(mime);
      } catch (error) {
        return this.fallback(`the browser refused the stream: ${error.message}`);
      }
      this.buffer.mode = "segments";
      this.buffer.addEventListener("updateend", () => this.pump());
      this.buffer.addEventListener("error", () => this.fallback("the browser could not decode the stream"));
      this.pump();
    });
    this.chase = setInterval(() => this.keepLive(), 1000);
    this.video.onplaying = () => {
      if (this.mediaSource === mediaSource && this.mode !== "mse") {
        this.retries = 0;
        this.setMode("mse");
      }
    };
  }

  fragment(data) {
    if (!this.mediaSource) return;
    this.pending.push(data);
    if (this.pending.length > MAX_PENDING) {
      // The tab cannot keep up (hidden, slow phone): start again at a keyframe.
      this.socket?.close();
      return;
    }
    this.pump();
  }

  pump() {
    const buffer = this.buffer;
    if (!buffer || buffer.updating || !this.pending.length || this.mediaSource?.readyState !== "open") return;
    try {
      buffer.appendBuffer(this.pending.shift());
    } catch (error) {
      if (error.name === "QuotaExceededError") this.trim(true);
      else this.fallback(`the browser could not take the stream: ${error.message}`);
    }
  }

  keepLive() {
    const { video, buffer } = this;
    if (!buffer || !video.buffered.length) return;
    const end = video.buffered.end(video.buffered.length - 1);
    const start = video.buffered.start(0);
    if (video.currentTime < start || end - video.currentTime > LIVE_LAG) video.currentTime = Math.max(start, end - 0.3);
    if (video.paused) video.play().catch(() => {});
    if (this.mode !== "mse" && video.currentTime > start) {
      this.retries = 0;
      this.setMode("mse");
    }
    this.trim(false);
  }

  trim(force) {
    const { video, buffer } = this;
    if (!buffer || buffer.updating || !video.buffered.length) return;
    const start = video.buffered.start(0);
    const keepFrom = video.currentTime - (force ? 2 : KEEP_SECONDS);
    if (keepFrom > start + 1) {
      try {
        buffer.remove(start, keepFrom);
      } catch {
        /* removed next time */
      }
    }
  }

  fallback(reason) {
    if (this.stopped) return;
    this.closeSocket();
    this.releaseMedia();
    this.setMode("snapshot", reason);
    const refresh = () => {
      if (this.stopped) return;
      this.img.src = `/api/cameras/${encodeURIComponent(this.cameraId)}/snapshot.jpg?t=${Date.now()}`;
    };
    // Each picture asks for the next when it has loaded (or failed), so slow links are not flooded.
    this.img.onload = () => this.later(refresh, SNAPSHOT_MS);
    this.img.onerror = () => this.later(refresh, SNAPSHOT_MS * 3);
    refresh();
  }

  later(callback, ms) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      callback();
    }, ms);
    this.timers.add(timer);
  }

  closeSocket() {
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  releaseMedia() {
    clearInterval(this.chase);
    this.video.onplaying = null;
    this.buffer = null;
    this.mediaSource = null;
    if (this.objectUrl) {
      this.video.removeAttribute("src");
      this.video.load();
      URL.revokeObjectURL(this.objectUrl);
      this.objectUrl = null;
    }
  }

  stop() {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.closeSocket();
    this.releaseMedia();
    this.img.onload = this.img.onerror = null;
    this.img.removeAttribute("src");
  }
}
