"""The test servers work with the client camhub uses: PyAV (bundled FFmpeg).

These tests also pin down what PyAV reports for each failure, which the
camera pipeline relies on:

- wrong or missing credentials: ``av.error.HTTPUnauthorizedError`` ("401"),
- a mount that does not exist: ``av.error.HTTPNotFoundError`` ("404"),
- junk, a silent peer or an immediate close on the port:
  ``av.error.InvalidDataError`` (a silent peer only after the open timeout),
- nothing listening: ``av.error.ConnectionRefusedError`` (an ``OSError``),
- the server dying mid-stream: ``demux()`` simply ends (no exception).
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
import pytest

from tests.servers.fixtures import Auth, GarbageServer, Mount, RtspServer, RtspServerError

# What camhub passes to av.open for RTSP cameras.
OPTIONS = {"rtsp_transport": "tcp"}
TIMEOUT = (5, 5)
# Same, but probing stops early: FFmpeg otherwise spends ~2 s in av.open
# estimating the frame rate. For tests where probing is not the point.
FAST = {**OPTIONS, "analyzeduration": "200000"}


@dataclass
class Pkt:
    kind: str
    pts: int | None
    dts: int | None
    keyframe: bool
    size: int
    arrived: float


def open_rtsp(url: str, options: dict[str, str] | None = None) -> av.container.InputContainer:
    return av.open(url, options=options or OPTIONS, timeout=TIMEOUT)


def packets(container: av.container.InputContainer, seconds: float) -> Iterator[Pkt]:
    """Demux every stream for ``seconds`` (flush packets at EOF are skipped)."""
    deadline = time.monotonic() + seconds
    for packet in container.demux():
        if packet.size:
            yield Pkt(
                packet.stream.type,
                packet.pts,
                packet.dts,
                packet.is_keyframe,
                packet.size,
                time.monotonic(),
            )
        if time.monotonic() >= deadline:
            return


def record(url: str, seconds: float, options: dict[str, str] | None = None) -> list[Pkt]:
    with open_rtsp(url, options) as container:
        return list(packets(container, seconds))


def test_h264_stream_has_the_configured_size_gop_and_rising_dts(rtsp_server):
    server = rtsp_server(Mount("/cam1", width=640, height=360, fps=15, gop=10))
    assert server.startup_seconds is not None and server.startup_seconds < 20

    with open_rtsp(server.url("/cam1")) as container:
        (video,) = container.streams.video
        assert video.codec_context.name == "h264"
        assert (video.codec_context.width, video.codec_context.height) == (640, 360)
        assert video.time_base == Fraction(1, 90000)
        got = [p for p in packets(container, 2.0) if p.kind == "video"]

    keyframes = [i for i, p in enumerate(got) if p.keyframe]
    assert len(keyframes) >= 3, keyframes
    # One packet per frame, and exactly `gop` frames from keyframe to keyframe.
    assert {b - a for a, b in itertools.pairwise(keyframes)} == {10}
    dts = [p.dts for p in got if p.dts is not None]
    assert len(dts) >= len(got) - 2  # FFmpeg may lack a timestamp on the first packet
    assert all(a < b for a, b in itertools.pairwise(dts))
    # 15 fps in a 90 kHz clock: 6000 ticks a frame (a live source jitters a little).
    steps = sorted(b - a for a, b in itertools.pairwise(dts))
    assert 5000 <= steps[len(steps) // 2] <= 7000, steps


@pytest.mark.parametrize(
    ("codec", "name", "rate"), [("pcma", "pcm_alaw", 8000), ("aac", "aac", 16000)]
)
def test_audio_stream_next_to_video(rtsp_server, codec, name, rate):
    server = rtsp_server(Mount("/cam1", audio=codec))
    with open_rtsp(server.url(), FAST) as container:
        (audio,) = container.streams.audio
        assert (audio.codec_context.name, audio.codec_context.sample_rate) == (name, rate)
        got = list(packets(container, 1.0))
    assert {p.kind for p in got} == {"video", "audio"}


@pytest.mark.parametrize("method", ["basic", "digest"])
def test_auth_rejects_a_wrong_password_and_accepts_the_right_one(rtsp_server, method):
    server = rtsp_server(auth=Auth("viewer", "p@ss word", method))

    for user, password in [(None, None), ("viewer", "wrong"), ("intruder", "p@ss word")]:
        with pytest.raises(av.error.HTTPUnauthorizedError, match="401"):
            open_rtsp(server.url("/cam1", user, password))

    got = record(server.url("/cam1", "viewer", "p@ss word"), 0.5, FAST)
    assert any(p.kind == "video" for p in got)


def test_two_clients_share_one_encoder(rtsp_server):
    server = rtsp_server(Mount("/cam1", fps=15))
    results: dict[int, list[Pkt]] = {}

    def client(i: int) -> None:
        results[i] = record(server.url(), 1.5, FAST)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    threads[0].start()
    # The second client joins once the shared pipeline exists: gst-rtsp-server has been
    # seen to refuse (EPERM) a client that arrives while the shared media is preparing.
    server.wait_event("media", 10)
    time.sleep(0.5)  # "media" is announced as the pipeline is built, before it plays
    threads[1].start()
    for thread in threads:
        thread.join(20)

    assert sorted(results) == [0, 1]
    for got in results.values():
        assert sum(p.kind == "video" for p in got) >= 10
    # A shared mount builds one pipeline (one encoder) for both clients.
    assert [e for e in server.events if e["event"] == "media"] == [
        {"event": "media", "path": "/cam1"}
    ]


def test_mounts_are_independent_and_a_missing_one_is_404(rtsp_server):
    server = rtsp_server([Mount("/cam1", width=320, height=240), Mount("/cam2", width=640)])
    for path, width in [("/cam1", 320), ("/cam2", 640)]:
        with open_rtsp(server.url(path), FAST) as container:
            assert container.streams.video[0].codec_context.width == width
    with pytest.raises(av.error.HTTPNotFoundError, match="404"):
        open_rtsp(server.url("/nope"))


def test_killed_server_ends_the_stream_and_restarts_on_the_same_port(rtsp_server):
    server = rtsp_server()
    port = server.port
    with open_rtsp(server.url(), FAST) as container:
        stream = packets(container, 10.0)
        for _ in range(5):
            next(stream)
        server.kill()
        assert not server.running
        # No exception: demux just ends once the buffered packets are read.
        started = time.monotonic()
        list(stream)
        assert time.monotonic() - started < 3

    with pytest.raises(av.error.ConnectionRefusedError):
        open_rtsp(server.url())

    server.restart()
    assert server.port == port
    assert any(p.kind == "video" for p in record(server.url(), 0.5, FAST))


def test_stop_is_clean_and_restart_waits_for_a_taken_port(rtsp_server):
    server = rtsp_server()
    assert server.stop() == 0
    with (
        socket.create_server(("127.0.0.1", server.port)),
        pytest.raises(RtspServerError, match="unavailable"),
    ):
        server.restart(timeout=0.5)
    server.restart()
    assert server.running


def test_bad_mount_spec_fails_with_the_reason(rtsp_server):
    with pytest.raises(RtspServerError, match="even"):
        rtsp_server(Mount("/cam1", width=641))


@pytest.mark.parametrize("mode", ["random", "malformed", "close"])
def test_garbage_on_the_rtsp_port_fails_open_quickly(garbage_server, mode):
    server: GarbageServer = garbage_server(mode)
    started = time.monotonic()
    with pytest.raises(av.error.InvalidDataError):
        open_rtsp(server.url())
    assert time.monotonic() - started < TIMEOUT[0]
    assert server.connections >= 1


def test_a_silent_peer_fails_open_at_the_timeout(garbage_server):
    server: GarbageServer = garbage_server("silent")
    started = time.monotonic()
    with pytest.raises(av.error.InvalidDataError):
        av.open(server.url(), options=OPTIONS, timeout=(1, 1))
    assert 0.5 < time.monotonic() - started < 3


def test_nothing_listening_is_connection_refused():
    with socket.socket() as holder:  # bound, not listening: the port stays dead
        holder.bind(("127.0.0.1", 0))
        url = f"rtsp://127.0.0.1:{holder.getsockname()[1]}/cam1"
        with pytest.raises(av.error.ConnectionRefusedError) as info:
            open_rtsp(url)
    assert isinstance(info.value, OSError)


def test_resolution_changes_mid_stream(rtsp_server):
    server = rtsp_server(
        Mount("/cam1", width=640, height=360, gop=15, resize_after=1.0, resize_to=(320, 180))
    )
    sizes: list[tuple[tuple[int, int], bool]] = []
    with open_rtsp(server.url(), FAST) as container:
        (video,) = container.streams.video
        deadline = time.monotonic() + 5
        for packet in container.demux(video):
            for frame in packet.decode():
                size = (frame.width, frame.height)
                if not sizes or sizes[-1][0] != size:
                    sizes.append((size, packet.is_keyframe))
            if len(sizes) >= 2 or time.monotonic() > deadline:
                break
    assert server.wait_event("resized", 1)["width"] == 320
    # The new size starts on a keyframe (x264 restarts with a new SPS).
    assert sizes == [((640, 360), True), ((320, 180), True)]


def test_url_quotes_credentials():
    server = RtspServer(port=5554)
    assert server.url("cam1") == "rtsp://127.0.0.1:5554/cam1"
    assert server.url("/cam1", "a b", "p@ss:/") == "rtsp://a%20b:p%40ss%3A%2F@127.0.0.1:5554/cam1"
    server.close()


def test_a_clip_mount_sends_a_real_scene_looped_at_its_frame_rate(rtsp_server, tmp_path):
    pytest.importorskip("skimage")
    from tests.plugins.still_scenes import StillScene
    from tests.servers.fixtures import write_clip

    scene = StillScene(width=320, height=180, fps=10, static_seconds=2.0, walk_seconds=0)
    clip = write_clip(tmp_path / "still.clip", scene.access_units())
    server = rtsp_server(Mount("/still", fps=10, clip=str(clip)))
    with open_rtsp(server.url("/still"), FAST) as container:
        (video,) = container.streams.video
        got = [p for p in packets(container, 5.0) if p.kind == "video"]
        assert (video.codec_context.width, video.codec_context.height) == (320, 180)
    # Looped: the 2 s clip came round at least once more, keyframe every 20 frames (2 s).
    assert len([e for e in server.events if e["event"] == "clip_loop"]) >= 2
    keyframes = [i for i, p in enumerate(got) if p.keyframe]
    assert len(keyframes) >= 2 and {b - a for a, b in itertools.pairwise(keyframes)} == {20}
    dts = [p.dts for p in got if p.dts is not None]
    assert all(a < b for a, b in itertools.pairwise(dts))  # on across the loop
    steps = sorted(b - a for a, b in itertools.pairwise(dts))
    assert 8000 <= steps[len(steps) // 2] <= 10000  # 10 fps in a 90 kHz clock
