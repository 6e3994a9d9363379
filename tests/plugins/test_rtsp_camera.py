"""Cameras on a real RTSP server (gst-rtsp-server): recording, faults, reconnects, watchdog."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import av
import pytest

from hub.events import RecordingSaved
from tests.helpers import (
    footage_path,
    hub_at,
    indexed_segments,
    next_events,
    wait_for_state,
    wait_until,
)
from tests.servers.fixtures import Auth, Mount

FAST_OPEN = "    open_timeout: 3\n"
PORCH = "camera.porch"


def camera_yaml(url: str, extra: str = "", record: str = "continuous") -> str:
    return (
        "cameras:\n  porch:\n"
        f"    url: '{url}'\n{FAST_OPEN}{extra}"
        f"    record:\n      mode: {record}\n      segment_seconds: 2\n"
    )


def watch_saved(hub):
    """A bus subscription to the camera's finished segments (make it before the start)."""
    return hub.bus.subscribe("test:saved", (RecordingSaved,))


def decode_all(path: Path) -> tuple[int, tuple[int, int], list[str]]:
    """Frames decoded (every one, errors raise), size, and the stream types in the file."""
    with av.open(str(path)) as container:
        types = [s.type for s in container.streams]
        frames = list(container.decode(container.streams.video[0]))
    return len(frames), (frames[0].width, frames[0].height), types


async def test_records_rtsp_by_stream_copy_with_audio(rtsp_server, tmp_path):
    server = rtsp_server(Mount("/cam1", width=640, height=360, fps=15, gop=15, audio="aac"))
    hub = hub_at(tmp_path, camera_yaml(server.url("/cam1")))
    saved = watch_saved(hub)
    await hub.async_start()
    await next_events(saved, 2)  # two whole segments; the stop closes a third
    source = hub.cameras["porch"].source
    assert source is not None
    await hub.async_stop()
    segments = await indexed_segments(tmp_path)
    assert len(segments) >= 2
    for segment in segments[:-1]:
        frames, size, types = decode_all(footage_path(tmp_path, segment))
        assert size == (640, 360) and types == ["video", "audio"]
        # 15 fps, cut at the first keyframe (1 s GOP) once 2 s of media are in: at least
        # 2 s (a frame's worth of timestamp jitter aside), less than one GOP more.
        assert frames == pytest.approx(segment.duration * 15, abs=2)
        assert 2.0 - 1 / 15 <= segment.duration < 3.0 + 1 / 15
    assert source.recorder.stats.packets_skipped == 0


async def test_g711_audio_is_kept_as_aac(rtsp_server, tmp_path):
    server = rtsp_server(Mount("/cam1", fps=15, gop=15, audio="pcma"))
    hub = hub_at(tmp_path, camera_yaml(server.url("/cam1")))
    saved = watch_saved(hub)
    await hub.async_start()
    await next_events(saved, 2)
    await hub.async_stop()
    segments = await indexed_segments(tmp_path)
    assert len(segments) >= 2
    path = footage_path(tmp_path, segments[0])
    assert decode_all(path)[2] == ["video", "audio"]
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"
        samples = sum(frame.samples for frame in container.decode(audio))
    # The audio covers the segment (8 kHz), give or take the encoder's priming frame.
    assert samples / audio.codec_context.sample_rate == pytest.approx(segments[0].duration, abs=0.3)


async def test_server_crash_and_restart_resumes_recording_without_corrupt_files(
    rtsp_server, tmp_path, monkeypatch
):
    retries: list[int] = []

    def backoff(attempt: int) -> float:
        retries.append(attempt)
        return 0.5

    monkeypatch.setattr("hub.cameras.manager.backoff_delay", backoff)
    server = rtsp_server(Mount("/cam1", fps=15, gop=15))
    hub = hub_at(tmp_path, camera_yaml(server.url("/cam1"), "    stall_seconds: 2\n"))
    saved = watch_saved(hub)
    await hub.async_start()
    await next_events(saved, 1)
    server.kill()  # the camera loses power: no RTSP teardown
    reason = (await wait_for_state(hub, PORCH, "offline"))["reason"]
    assert reason
    # Down for a while: the loss, then at least one attempt that finds nobody there.
    await wait_until(lambda: len(retries) >= 2, 15, "a retry while the camera is off")
    restarted = time.time()
    server.restart()
    # Back within the (shortened) back-off, and a whole segment recorded after the outage.
    await wait_for_state(hub, PORCH, "online", timeout=15)
    while (await next_events(saved, 1))[0].start < restarted:
        pass  # the segment the outage cut short, saved late
    await hub.async_stop()
    segments = await indexed_segments(tmp_path)
    # Recording before and after the outage, and every file decodes from start to end.
    assert segments[0].end < segments[-1].start
    for segment in segments:
        frames, _, _ = decode_all(footage_path(tmp_path, segment))
        assert frames >= 1
    assert not list((tmp_path / "data" / "footage").rglob("*.partial"))


async def test_wrong_password_is_reported_without_the_password(rtsp_server, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    server = rtsp_server(Mount("/cam1"), auth=Auth("admin", "right-horse-battery"))
    url = server.url("/cam1", user="admin", password="wrong-staple-secret")
    hub = hub_at(tmp_path, camera_yaml(url))
    await hub.async_start()
    reason = (await wait_for_state(hub, PORCH, "offline"))["reason"]
    assert "refused the username or password (401)" in reason
    assert "wrong-staple-secret" not in reason
    assert "admin:***@" in reason
    assert "wrong-staple-secret" not in caplog.text
    await hub.async_stop()

    hub = hub_at(tmp_path, camera_yaml(server.url("/cam1", "admin", "right-horse-battery")))
    await hub.async_start()
    await wait_for_state(hub, PORCH, "online")
    await hub.async_stop()


@pytest.mark.parametrize("mode", ["random", "malformed", "silent"])
async def test_garbage_on_the_rtsp_port_is_an_offline_reason_not_a_crash(
    garbage_server, tmp_path, mode
):
    server = garbage_server(mode)
    hub = hub_at(tmp_path, camera_yaml(server.url("/cam1"), "    stall_seconds: 2\n"))
    await hub.async_start()
    reason = (await wait_for_state(hub, PORCH, "offline"))["reason"]
    assert reason.startswith("cannot open rtsp://127.0.0.1:")
    assert hub.running and hub.health()["status"] == "ok"
    await hub.async_stop()


async def test_watchdog_reconnects_a_stalled_stream(rtsp_server, tmp_path, monkeypatch):
    monkeypatch.setattr("hub.cameras.manager.backoff_delay", lambda attempt: 0.2)
    server = rtsp_server(Mount("/cam1", fps=15, gop=15))
    hub = hub_at(tmp_path, camera_yaml(server.url("/cam1"), "    stall_seconds: 2\n"))
    await hub.async_start()
    await wait_for_state(hub, PORCH, "online")
    pid = server.pid
    os.kill(pid, signal.SIGSTOP)  # connection open, but nothing arrives
    try:
        stalled_at = time.monotonic()
        reason = (await wait_for_state(hub, PORCH, "offline", timeout=15))["reason"]
        assert time.monotonic() - stalled_at < 8
    finally:
        os.kill(pid, signal.SIGCONT)
    assert "stalled" in reason or "ended" in reason
    await wait_for_state(hub, PORCH, "online", timeout=20)
    await hub.async_stop()


async def test_mid_stream_resolution_change_starts_a_segment_that_plays(rtsp_server, tmp_path):
    server = rtsp_server(
        Mount("/cam1", width=640, height=360, fps=15, gop=15, resize_after=3, resize_to=(320, 180))
    )
    hub = hub_at(
        tmp_path,
        camera_yaml(server.url("/cam1")).replace("segment_seconds: 2", "segment_seconds: 30"),
    )
    saved = watch_saved(hub)
    await hub.async_start()
    await next_events(saved, 1)  # the change cut the first segment short of its 30 s
    recorder = hub.cameras["porch"].source.recorder
    written = recorder.stats.packets_written
    # A second of the new size in the next segment (15 fps), then stop.
    await wait_until(lambda: recorder.stats.packets_written >= written + 15, 15, "new frames")
    await hub.async_stop()
    segments = await indexed_segments(tmp_path)
    sizes = [decode_all(footage_path(tmp_path, s))[1] for s in segments]
    assert sizes[:2] == [(640, 360), (320, 180)]
