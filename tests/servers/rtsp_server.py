#!/usr/bin/python3
"""A real RTSP server for the test suite, built on GStreamer's gst-rtsp-server.

Runs under Debian's /usr/bin/python3 (which has PyGObject, ``gi``); it must not
import project code. It listens on 127.0.0.1 only, prints one JSON line to
stdout once it accepts connections, e.g.::

    {"event": "ready", "port": 43121, "pid": 1234, "mounts": ["/cam1"]}

and then serves until SIGTERM or SIGINT (exit status 0). Later lines on stdout
are JSON events too: ``{"event": "media", "path": "/cam1"}`` when a mount
builds its pipeline (first client), ``{"event": "resized", ...}``.

Mounts are given with repeated ``--mount`` options, each either a JSON object
or a compact ``key=value,key=value`` list with the same keys::

    --mount path=/cam1,width=1280,height=720,fps=15,gop=30,audio=pcma
    --mount '{"path": "/cam2", "width": 640, "height": 360, "resize_after": 3,
              "resize_to": [320, 180]}'

Mount keys (all but ``path`` optional):
    path          "/cam1"; the RTSP URL is rtsp://127.0.0.1:PORT/cam1
    width height  frame size (default 640x360)
    fps           frames per second, an integer (default 15)
    gop           keyframe interval in frames (default 2 * fps); exact, scene
                  cuts are off, as on a real camera
    bitrate       H.264 bitrate in kbit/s (default from the frame size and fps)
    pattern       videotestsrc pattern (default "ball": a moving ball)
    audio         null, "pcma", "pcmu" (G.711, 8 kHz mono) or "aac" (16 kHz mono)
    shared        true (default): all clients share one pipeline and encoder
    resize_after  seconds after the pipeline starts to change the frame size
    resize_to     the new size, [w, h] or "WxH"; x264 then emits a new SPS
    clip          instead of a test pattern encoded live, a file of H.264 access
                  units sent at ``fps`` and looped for ever (a real scene, encoded
                  like a camera, at no encoding cost to the server): each unit is
                  a 4-byte big-endian length and the Annex B bytes, every loop
                  starting with a keyframe (``fixtures.write_clip`` writes one);
                  each loop start prints ``{"event": "clip_loop", "path": ...,
                  "time": <epoch seconds>}``, the time the loop's first unit is
                  due (unit k is sent at time + k / fps)
    start_delay   seconds of pause after a clip's first unit (default 0): many
                  mounts of one clip then have their keyframes at different
                  times, as independent cameras do

Other options: ``--port`` (0 = a free port), ``--auth basic|digest`` with
``--user``/``--password`` (every mount then needs credentials),
``--protocols tcp,udp`` (multicast is never offered: it would leave loopback),
``--exit-with-stdin`` (quit when stdin reaches EOF, so a crashed parent never
leaves a server behind).

Exit status: 0 stopped by a signal or stdin EOF, 2 bad arguments,
3 cannot listen (e.g. the port is in use), 4 a GStreamer element is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from typing import Any

EXIT_USAGE = 2
EXIT_BIND = 3
EXIT_MISSING = 4

# GStreamer element -> Debian package that ships it (for a helpful error).
ELEMENT_PACKAGES = {
    "videotestsrc": "gstreamer1.0-plugins-base",
    "videoconvert": "gstreamer1.0-plugins-base",
    "videoscale": "gstreamer1.0-plugins-base",
    "capsfilter": "libgstreamer1.0-0",
    "audiotestsrc": "gstreamer1.0-plugins-base",
    "audioconvert": "gstreamer1.0-plugins-base",
    "x264enc": "gstreamer1.0-plugins-ugly",
    "rtph264pay": "gstreamer1.0-plugins-good",
    "alawenc": "gstreamer1.0-plugins-good",
    "mulawenc": "gstreamer1.0-plugins-good",
    "rtppcmapay": "gstreamer1.0-plugins-good",
    "rtppcmupay": "gstreamer1.0-plugins-good",
    "voaacenc": "gstreamer1.0-plugins-bad",
    "aacparse": "gstreamer1.0-plugins-good",
    "rtpmp4gpay": "gstreamer1.0-plugins-good",
    "appsrc": "gstreamer1.0-plugins-base",
    "h264parse": "gstreamer1.0-plugins-bad",
}

# UDP ports (RTP even, RTCP odd) for UDP clients; a taken one is skipped.
UDP_PORTS = (20000, 29999)
AUDIO_CODECS = ("pcma", "pcmu", "aac")
MOUNT_KEYS = {
    "path",
    "width",
    "height",
    "fps",
    "gop",
    "bitrate",
    "pattern",
    "audio",
    "shared",
    "resize_after",
    "resize_to",
    "clip",
    "start_delay",
}


class UsageError(Exception):
    pass


def _size(value: object) -> tuple[int, int]:
    if isinstance(value, str):
        w, sep, h = value.lower().partition("x")
        if not sep:
            raise UsageError(f"size {value!r} is not WxH")
        return int(w), int(h)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return int(value[0]), int(value[1])
    raise UsageError(f"size {value!r} is not WxH or [w, h]")


def _parse_compact(text: str) -> dict[str, object]:
    spec: dict[str, object] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"mount item {item!r} is not key=value")
        spec[key.strip()] = value.strip()
    return spec


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise UsageError(f"{value!r} is not a boolean")


def parse_mount(text: str) -> dict[str, object]:
    """One --mount value (JSON object or key=value list) -> a normalised mount dict."""
    try:
        raw = json.loads(text) if text.lstrip().startswith("{") else _parse_compact(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"mount JSON: {exc}") from exc
    unknown = set(raw) - MOUNT_KEYS
    if unknown:
        raise UsageError(f"unknown mount keys {sorted(unknown)}; known: {sorted(MOUNT_KEYS)}")
    path = str(raw.get("path", ""))
    if not path.startswith("/") or len(path) < 2:
        raise UsageError(f"mount path {path!r} must look like /cam1")
    try:
        width = int(raw.get("width", 640))
        height = int(raw.get("height", 360))
        fps = int(raw.get("fps", 15))
        gop = int(raw.get("gop", 2 * fps))
        bitrate = raw.get("bitrate")
        bitrate = int(bitrate) if bitrate not in (None, "") else None
        resize_after = raw.get("resize_after")
        resize_after = float(resize_after) if resize_after not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"mount {path}: {exc}") from exc
    if min(width, height, fps, gop) <= 0 or width % 2 or height % 2:
        raise UsageError(f"mount {path}: sizes must be even and positive, fps and gop positive")
    audio = raw.get("audio")
    audio = None if audio in (None, "", "none", False) else str(audio).lower()
    if audio is not None and audio not in AUDIO_CODECS:
        raise UsageError(f"mount {path}: audio must be one of {AUDIO_CODECS} or null")
    resize_to = _size(raw["resize_to"]) if raw.get("resize_to") not in (None, "") else None
    if (resize_after is None) != (resize_to is None):
        raise UsageError(f"mount {path}: resize_after and resize_to go together")
    if bitrate is None:
        # Roughly what a home camera spends; the ball pattern needs far less anyway.
        bitrate = max(256, min(8000, width * height * fps // 6000))
    clip = raw.get("clip")
    clip = str(clip) if clip not in (None, "") else None
    if clip is not None and (audio is not None or resize_to is not None):
        raise UsageError(f"mount {path}: a clip has no audio and is not resized")
    if clip is not None and not os.path.isfile(clip):
        raise UsageError(f"mount {path}: clip {clip!r} is not a file")
    try:
        start_delay = float(raw.get("start_delay") or 0.0)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"mount {path}: start_delay: {exc}") from exc
    return {
        "path": path,
        "width": width,
        "height": height,
        "fps": fps,
        "gop": gop,
        "bitrate": bitrate,
        "pattern": str(raw.get("pattern", "ball")),
        "audio": audio,
        "shared": _bool(raw.get("shared", True)),
        "resize_after": resize_after,
        "resize_to": resize_to,
        "clip": clip,
        "start_delay": start_delay,
    }


def launch_line(mount: dict[str, object]) -> str:
    """The gst-launch description of one mount's media (payloaders pay0, pay1)."""
    if mount["clip"] is not None:
        return (
            "( appsrc name=clip is-live=true format=time do-timestamp=true"
            ' caps="video/x-h264,stream-format=byte-stream,alignment=au"'
            " ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
    w, h, fps = mount["width"], mount["height"], mount["fps"]
    video = (
        f"videotestsrc is-live=true pattern={mount['pattern']}"
        f" ! video/x-raw,width={w},height={h},framerate={fps}/1"
        # Passthrough until a resize changes the caps of "size".
        f" ! videoscale ! capsfilter name=size caps=video/x-raw,width={w},height={h}"
        " ! videoconvert ! video/x-raw,format=I420"
        " ! x264enc tune=zerolatency speed-preset=ultrafast"
        f" key-int-max={mount['gop']} bitrate={mount['bitrate']}"
        ' option-string="scenecut=0"'
        " ! rtph264pay name=pay0 pt=96 config-interval=1"
    )
    audio = mount["audio"]
    if audio is None:
        return f"( {video} )"
    src = "audiotestsrc is-live=true wave=sine freq=440 volume=0.2"
    if audio == "aac":
        sound = (
            f"{src} ! audio/x-raw,rate=16000,channels=1 ! audioconvert"
            " ! voaacenc bitrate=32000 ! aacparse ! rtpmp4gpay name=pay1 pt=97"
        )
    else:
        enc, pay, pt = (
            ("alawenc", "rtppcmapay", 8) if audio == "pcma" else ("mulawenc", "rtppcmupay", 0)
        )
        sound = f"{src} ! audio/x-raw,rate=8000,channels=1 ! {enc} ! {pay} name=pay1 pt={pt}"
    return f"( {video} {sound} )"


def needed_elements(mounts: list[dict[str, object]]) -> list[str]:
    names = ["videotestsrc", "videoscale", "capsfilter", "videoconvert", "x264enc", "rtph264pay"]
    for mount in mounts:
        if mount["clip"] is not None:
            names += ["appsrc", "h264parse"]
        if mount["audio"]:
            names.append("audiotestsrc")
        if mount["audio"] == "pcma":
            names += ["alawenc", "rtppcmapay"]
        elif mount["audio"] == "pcmu":
            names += ["mulawenc", "rtppcmupay"]
        elif mount["audio"] == "aac":
            names += ["audioconvert", "voaacenc", "aacparse", "rtpmp4gpay"]
    return list(dict.fromkeys(names))


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument(
        "--mount",
        action="append",
        default=[],
        help="a mount: JSON object or key=value,... (repeatable; default one /cam1)",
    )
    parser.add_argument("--auth", choices=("basic", "digest"), help="require credentials")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", default="secret")
    parser.add_argument(
        "--protocols", default="tcp,udp", help="lower transports offered: tcp, udp or both"
    )
    parser.add_argument("--exit-with-stdin", action="store_true", help="quit when stdin closes")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        mounts = [parse_mount(text) for text in args.mount or ["path=/cam1"]]
        paths = [m["path"] for m in mounts]
        if len(set(paths)) != len(paths):
            raise UsageError(f"duplicate mount paths in {paths}")
        protocols = {p.strip().lower() for p in args.protocols.split(",") if p.strip()}
        if not protocols or protocols - {"tcp", "udp"}:
            raise UsageError(f"--protocols {args.protocols!r}: use tcp, udp or tcp,udp")
    except UsageError as exc:
        print(f"rtsp_server: {exc}", file=sys.stderr)
        return EXIT_USAGE

    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer

    Gst.init(None)
    missing = [e for e in needed_elements(mounts) if Gst.ElementFactory.find(e) is None]
    if missing:
        packages = sorted({ELEMENT_PACKAGES.get(e, "?") for e in missing})
        print(
            f"rtsp_server: missing GStreamer elements {missing} (Debian: {' '.join(packages)})",
            file=sys.stderr,
        )
        return EXIT_MISSING

    loop = GLib.MainLoop()
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    lower = GstRtsp.RTSPLowerTrans(0)
    if "tcp" in protocols:
        lower |= GstRtsp.RTSPLowerTrans.TCP
    if "udp" in protocols:
        lower |= GstRtsp.RTSPLowerTrans.UDP

    if args.auth:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", args.user)
        if args.auth == "basic":
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        else:
            auth.add_digest(args.user, args.password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        server.set_auth(auth)
        role = Gst.Structure.new_from_string(
            f"{args.user}, media.factory.access=(boolean)true,"
            " media.factory.construct=(boolean)true"
        )

    # Without a pool, UDP (unicast) RTP/RTCP sockets bind the wildcard address;
    # keep them on loopback too.
    pool = GstRtspServer.RTSPAddressPool()
    pool.add_range("127.0.0.1", "127.0.0.1", UDP_PORTS[0], UDP_PORTS[1], 0)

    mount_points = server.get_mount_points()
    for mount in mounts:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(mount))
        factory.set_shared(bool(mount["shared"]))
        factory.set_protocols(lower)
        factory.set_address_pool(pool)
        if args.auth:
            factory.add_role_from_structure(role)
        factory.connect("media-configure", _on_media_configure(mount, GLib, Gst))
        mount_points.add_factory(str(mount["path"]), factory)

    try:
        # create_source (unlike attach) reports why it cannot listen.
        source = server.create_source(None)
    except GLib.Error as exc:
        print(
            f"rtsp_server: cannot listen on 127.0.0.1:{args.port}: {exc.message}", file=sys.stderr
        )
        return EXIT_BIND
    source.attach(None)

    def quit_(*_: object) -> bool:
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, quit_)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, quit_)
    if args.exit_with_stdin:

        def on_stdin(fd: int, condition: object) -> bool:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                loop.quit()
                return GLib.SOURCE_REMOVE
            return GLib.SOURCE_CONTINUE

        GLib.io_add_watch(
            sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP, on_stdin
        )

    emit(event="ready", port=server.get_bound_port(), pid=os.getpid(), mounts=paths)
    loop.run()
    # Streaming threads may still be running: tearing GStreamer down from
    # Python can hang, so leave at once; the kernel closes every socket.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _on_media_configure(mount: dict[str, object], GLib: Any, Gst: Any) -> Any:
    """A media-configure handler: report the new pipeline, schedule a resize.

    A shared mount builds one pipeline for all its clients (one "media" event);
    the pipeline is torn down when its last client leaves and built again for
    the next one, so resize_after counts from each pipeline's start.
    """

    def on_configure(factory: Any, media: Any) -> None:
        emit(event="media", path=mount["path"])
        if mount["clip"] is not None:
            _feed_clip(mount, media, GLib, Gst)
            return
        if mount["resize_to"] is None:
            return
        new_w, new_h = mount["resize_to"]
        capsfilter = media.get_element().get_by_name("size")

        def resize() -> bool:
            caps = Gst.Caps.from_string(
                f"video/x-raw,width={new_w},height={new_h},pixel-aspect-ratio=1/1"
            )
            capsfilter.set_property("caps", caps)
            emit(event="resized", path=mount["path"], width=new_w, height=new_h)
            return GLib.SOURCE_REMOVE

        GLib.timeout_add(int(float(mount["resize_after"]) * 1000), resize)

    return on_configure


_CLIPS: dict[str, list[bytes]] = {}


def read_clip(path: str) -> list[bytes]:
    """The access units of a clip file (4-byte big-endian length, then the bytes); read once
    however many mounts send it."""
    if path in _CLIPS:
        return _CLIPS[path]
    units = []
    with open(path, "rb") as clip:
        data = clip.read()
    at = 0
    while at + 4 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        units.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    if not units or at != len(data):
        raise UsageError(f"clip {path!r} is empty or truncated")
    _CLIPS[path] = units
    return units


def _feed_clip(mount: dict[str, object], media: Any, GLib: Any, Gst: Any) -> None:
    """Push the clip's access units into the media's appsrc at `fps`, looping, until the
    media is unprepared (its last client left). Each push is scheduled from the start time,
    so timers never drift. A push refused while the media changes state (flushing, as a
    client starts playing) is not the end: the next one goes on schedule."""
    appsrc = media.get_element().get_by_name("clip")
    gone = [False]
    media.connect("unprepared", lambda *_: gone.__setitem__(0, True))
    units = read_clip(str(mount["clip"]))
    interval = 1.0 / float(str(mount["fps"]))
    # The first unit goes at once (a client's DESCRIBE waits for it); the delay comes after
    # it, once, so that the keyframes of mounts with different delays never line up.
    delay = float(str(mount["start_delay"]))
    started = time.monotonic() + delay
    sent = [0]

    def push() -> bool:
        index = sent[0] % len(units)
        if index == 0:
            # When the loop's first unit is due: its unit k goes at `time` + k / fps.
            due = started + sent[0] * interval
            emit(event="clip_loop", path=mount["path"], time=time.time() + due - time.monotonic())
        if gone[0]:
            return GLib.SOURCE_REMOVE
        appsrc.emit("push-buffer", Gst.Buffer.new_wrapped(units[index]))
        sent[0] += 1
        wait = started + sent[0] * interval - time.monotonic()
        GLib.timeout_add(max(0, round(wait * 1000)), push)
        return GLib.SOURCE_REMOVE

    GLib.idle_add(push)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
