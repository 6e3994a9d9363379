"""Real servers for the camera-pipeline tests: an RTSP server and a garbage server.

``RtspServer`` runs ``tests/servers/rtsp_server.py`` (GStreamer's gst-rtsp-server)
under Debian's ``/usr/bin/python3``, which has PyGObject; the venv does not.
Everything listens on 127.0.0.1 only.

Fixtures (registered for the whole suite in ``tests/conftest.py``):

``rtsp_server``
    a factory: ``start(mounts=..., auth=...) -> RtspServer``; every server it
    started is stopped at teardown. The test is skipped only when
    /usr/bin/python3 lacks ``gi`` or the GstRtspServer typelib
    (``scripts/test.sh`` installs both).

``garbage_server``
    a factory: ``start(mode="random") -> GarbageServer``, a TCP server that
    answers every connection with junk instead of RTSP.

Example::

    def test_records(rtsp_server):
        server = rtsp_server(mounts=[Mount("/cam1", width=1280, height=720, fps=15)])
        url = server.url("/cam1")          # rtsp://127.0.0.1:PORT/cam1
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
HOST = "127.0.0.1"

# rtsp_server.py exit status when it cannot listen (e.g. the port is taken).
_EXIT_BIND = 3


@dataclass(frozen=True)
class Mount:
    """One stream of the RTSP server: H.264 from a moving test pattern.

    ``gop`` is the keyframe interval in frames (exact; default 2 * fps).
    ``audio`` adds a second stream: "pcma", "pcmu" (G.711 8 kHz) or "aac".
    ``resize_after``/``resize_to`` change the frame size that many seconds
    after the stream's pipeline starts (x264 then sends a new SPS and a
    keyframe). ``shared`` makes every client see one encoder, like a camera.
    """

    path: str = "/cam1"
    width: int = 640
    height: int = 360
    fps: int = 15
    gop: int | None = None
    bitrate: int | None = None  # kbit/s; None: chosen from size and fps
    pattern: str = "ball"
    audio: Literal["pcma", "pcmu", "aac"] | None = None
    shared: bool = True
    resize_after: float | None = None
    resize_to: tuple[int, int] | None = None
    clip: str | None = None
    """A file from `write_clip`: sent at `fps` and looped instead of a live test pattern."""
    start_delay: float | None = None
    """Seconds before a clip starts (mounts of one clip then have staggered keyframes)."""

    @property
    def keyframe_interval(self) -> int:
        return self.gop if self.gop is not None else 2 * self.fps

    def to_json(self) -> str:
        spec = {k: v for k, v in asdict(self).items() if v is not None}
        spec["gop"] = self.keyframe_interval
        return json.dumps(spec)


def write_clip(path: Path, access_units: Iterable[bytes]) -> Path:
    """Write H.264 access units (Annex B, the first a keyframe with SPS/PPS) for a `clip`
    mount: each as a 4-byte big-endian length and its bytes."""
    with open(path, "wb") as out:
        for unit in access_units:
            out.write(len(unit).to_bytes(4, "big"))
            out.write(unit)
    return path


@dataclass(frozen=True)
class Auth:
    """Credentials every mount requires; ``method`` is what the server offers."""

    user: str = "admin"
    password: str = "secret"
    method: Literal["basic", "digest"] = "basic"


MountsArg = Mount | str | Iterable[Mount | str] | None


def _mounts(mounts: MountsArg) -> tuple[Mount, ...]:
    if mounts is None:
        return (Mount(),)
    if isinstance(mounts, (Mount, str)):
        mounts = [mounts]
    return tuple(Mount(path=m) if isinstance(m, str) else m for m in mounts)


@cache
def gst_unavailable_reason() -> str | None:
    """Why /usr/bin/python3 cannot run the RTSP server, or None when it can."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} not found (the RTSP test server runs under Debian's Python)"
    probe = (
        "import gi; gi.require_version('Gst', '1.0');"
        " gi.require_version('GstRtspServer', '1.0');"
        " from gi.repository import GstRtspServer"
    )
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", probe],
        capture_output=True,
        text=True,
        timeout=30,
        env=_system_python_env(),
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["?"])[-1]
        return (
            f"{SYSTEM_PYTHON} lacks gi or the GstRtspServer typelib ({last}); "
            "install python3-gi gir1.2-gst-rtsp-server-1.0 (scripts/test.sh does)"
        )
    return None


def _system_python_env() -> dict[str, str]:
    """The environment minus what would point Debian's python at the venv."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


class RtspServerError(RuntimeError):
    pass


class RtspServer:
    """A gst-rtsp-server process on 127.0.0.1 with one or more mounts.

    ``start()`` returns once the server accepts connections (the media
    pipeline itself starts with the first client). ``events`` holds the JSON
    lines the server printed: "ready" first, then e.g. "resized".
    """

    def __init__(
        self,
        mounts: MountsArg = None,
        auth: Auth | tuple[str, str] | None = None,
        *,
        port: int = 0,
        protocols: Sequence[str] = ("tcp", "udp"),
        startup_timeout: float = 20.0,
    ) -> None:
        self.mounts = _mounts(mounts)
        self.auth = Auth(*auth) if isinstance(auth, tuple) else auth
        self.port = port
        self.protocols = tuple(protocols)
        self.startup_timeout = startup_timeout
        self.startup_seconds: float | None = None
        self.events: list[dict[str, Any]] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._cond = threading.Condition()
        self._eof = False
        self._reader: threading.Thread | None = None
        self._log_dir: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> RtspServer:
        """Launch the server and wait for it to listen; ``port=0`` picks a port."""
        if self.running:
            raise RtspServerError("already running")
        self._spawn()
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); returns the exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._reap()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL, as if the camera crashed or lost power: no RTSP teardown."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._reap()

    def restart(self, timeout: float = 10.0) -> RtspServer:
        """Stop if running, then start again on the same port (for reconnects).

        The port can be briefly unavailable (another socket may grab it in
        the gap); binding is retried until ``timeout``.
        """
        if self.port == 0:
            raise RtspServerError("restart() needs a server that has started once")
        self.stop()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._spawn()
                return self
            except _BindError:
                if time.monotonic() >= deadline:
                    raise RtspServerError(
                        f"port {self.port} stayed unavailable for {timeout} s"
                    ) from None
                time.sleep(0.1)

    def close(self) -> None:
        """Stop the server and remove its log."""
        self.stop()
        if self._log_dir is not None:
            self._log_dir.cleanup()
            self._log_dir = None

    def __enter__(self) -> RtspServer:
        return self.start() if not self.running else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log(self) -> str:
        """What the server wrote to stderr (GStreamer warnings, errors)."""
        if self._log_dir is None:
            return ""
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    @property
    def _log_path(self) -> Path:
        if self._log_dir is None:
            self._log_dir = tempfile.TemporaryDirectory(prefix="camhub-rtsp-")
        return Path(self._log_dir.name) / "server.log"

    def url(
        self, mount: str = "/cam1", user: str | None = None, password: str | None = None
    ) -> str:
        """``rtsp://[user:password@]127.0.0.1:PORT/cam1``; credentials are URL-quoted."""
        if not mount.startswith("/"):
            mount = "/" + mount
        cred = ""
        if user is not None:
            cred = quote(user, safe="")
            if password is not None:
                cred += ":" + quote(password, safe="")
            cred += "@"
        return f"rtsp://{cred}{HOST}:{self.port}{mount}"

    def wait_event(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for the server to print an event (e.g. "resized") and return it."""
        with self._cond:
            found = self._cond.wait_for(
                lambda: next((e for e in self.events if e.get("event") == name), None),
                timeout,
            )
        if found is None:
            raise TimeoutError(f"no {name!r} event in {timeout} s; got {self.events}")
        return found

    # -- internals ---------------------------------------------------------

    def _command(self) -> list[str]:
        cmd = [
            SYSTEM_PYTHON,
            str(SERVER_SCRIPT),
            "--port",
            str(self.port),
            "--protocols",
            ",".join(self.protocols),
            "--exit-with-stdin",
        ]
        for mount in self.mounts:
            cmd += ["--mount", mount.to_json()]
        if self.auth is not None:
            cmd += [
                "--auth",
                self.auth.method,
                "--user",
                self.auth.user,
                "--password",
                self.auth.password,
            ]
        return cmd

    def _spawn(self) -> None:
        self._reap()
        with self._cond:
            self.events = []
            self._eof = False
        started = time.monotonic()
        with open(self._log_path, "ab") as log:
            proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.PIPE,  # closed by us (or our death): the server quits
                stdout=subprocess.PIPE,
                stderr=log,
                env=_system_python_env(),
                close_fds=True,
            )
        self._proc = proc
        self._reader = threading.Thread(
            target=self._read_events, args=(proc,), daemon=True, name="rtsp-server-stdout"
        )
        self._reader.start()
        with self._cond:
            ready = self._cond.wait_for(
                lambda: (self.events and self.events[0]) or self._eof, self.startup_timeout
            )
        if not ready:
            self.kill()
            raise RtspServerError(
                f"RTSP server not ready in {self.startup_timeout} s; log:\n{self.log}"
            )
        if ready is True or ready.get("event") != "ready":
            try:
                status = proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()
                status = proc.returncode
            self._reap()
            if status == _EXIT_BIND:
                raise _BindError(self.log)
            raise RtspServerError(f"RTSP server failed (exit {status}); log:\n{self.log}")
        self.port = int(ready["port"])
        self.startup_seconds = time.monotonic() - started

    def _read_events(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with contextlib.suppress(OSError, ValueError):  # ValueError: pipe closed under us
            for raw in proc.stdout:
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                with self._cond:
                    self.events.append(event)
                    self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _reap(self) -> None:
        """Once the process has exited: join the stdout reader, close the pipes."""
        proc = self._proc
        if proc is None or proc.poll() is None:
            return
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


class _BindError(RtspServerError):
    pass


# -- garbage on the RTSP port ------------------------------------------------

GarbageMode = Literal["random", "malformed", "silent", "close"]


class GarbageServer:
    """A TCP server on 127.0.0.1 that never speaks RTSP.

    Modes: "random" answers the first request with random bytes and closes;
    "malformed" answers with an RTSP status line followed by junk headers and
    a bogus SDP; "silent" accepts and never answers (client timeouts);
    "close" accepts and closes at once.
    """

    def __init__(self, mode: GarbageMode = "random", garbage_size: int = 4096) -> None:
        if mode not in ("random", "malformed", "silent", "close"):
            raise ValueError(f"unknown garbage mode {mode!r}")
        self.mode = mode
        self.garbage_size = garbage_size
        self.connections = 0
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True, name="garbage")
        self._accepter.start()

    def url(self, mount: str = "/cam1") -> str:
        return f"rtsp://{HOST}:{self.port}/{mount.lstrip('/')}"

    def stop(self) -> None:
        self._stopping.set()
        self._accepter.join(5)
        self._listener.close()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)

    def __enter__(self) -> GarbageServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            if self.mode == "close":
                return
            request = self._read_request(conn, wait=2.0)
            if self.mode == "silent":
                while not self._stopping.is_set():
                    with contextlib.suppress(TimeoutError):
                        if not conn.recv(4096):
                            return
                return
            if self.mode == "random":
                reply = secrets.token_bytes(self.garbage_size)
            else:
                reply = _malformed_reply(request, self.garbage_size)
            with contextlib.suppress(OSError):
                conn.sendall(reply)
                conn.shutdown(socket.SHUT_WR)
                # Drain briefly so the client reads the junk before a reset.
                self._read_request(conn, wait=0.5)

    def _read_request(self, conn: socket.socket, wait: float) -> bytes:
        data = b""
        deadline = time.monotonic() + wait
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            if self._stopping.is_set():
                break
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        return data


def _malformed_reply(request: bytes, size: int) -> bytes:
    cseq = b"1"
    for line in request.split(b"\r\n"):
        if line.lower().startswith(b"cseq:"):
            cseq = line.split(b":", 1)[1].strip()
    junk = secrets.token_bytes(size)
    return (
        b"RTSP/1.0 200 OK\r\nCSeq: " + cseq + b"\r\n"
        b"Content-Type: application/sdp\r\n"
        b"Public: \x00\xff\xfe DESCRIBE,\r\n"
        b"Content-Length: " + str(len(junk)).encode() + b"\r\n\r\n" + junk
    )


# -- pytest fixtures -----------------------------------------------------------


def _skip_without_gst() -> None:
    reason = gst_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture
def rtsp_server() -> Iterator[Any]:
    """Factory: ``start(mounts=None, auth=None, **kwargs) -> RtspServer`` (started).

    ``mounts``: a Mount, a path, or a list of them (default one "/cam1",
    640x360@15). ``auth``: an Auth or (user, password). Other keyword
    arguments go to RtspServer (``port``, ``protocols``). All servers are
    stopped at teardown.
    """
    _skip_without_gst()
    servers: list[RtspServer] = []

    def start(
        mounts: MountsArg = None, auth: Auth | tuple[str, str] | None = None, **kwargs: Any
    ) -> RtspServer:
        server = RtspServer(mounts, auth, **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def garbage_server() -> Iterator[Any]:
    """Factory: ``start(mode="random") -> GarbageServer``; all stopped at teardown."""
    servers: list[GarbageServer] = []

    def start(mode: GarbageMode = "random", **kwargs: Any) -> GarbageServer:
        server = GarbageServer(mode, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
