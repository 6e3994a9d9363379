"""HTTP cameras: MJPEG (multipart/x-mixed-replace) and HLS, served by a real aiohttp server."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.events import RecordingSaved
from tests.helpers import (
    footage_path,
    hub_at,
    indexed_segments,
    next_events,
    wait_for_state,
    wait_until,
)
from tests.web_clients import signed_in_client


def jpeg_frames(count: int, size: tuple[int, int] = (320, 240)) -> list[bytes]:
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = size
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 10)
    frames = []
    for i in range(count):
        image = np.zeros((size[1], size[0], 3), np.uint8)
        image[:, (i * 8) % size[0] :][:, :20] = 255  # a moving bar
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuvj420p")
        frame.pts = i
        frames.append(b"".join(bytes(p) for p in codec.encode(frame)))
    return frames


async def serve(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


async def test_mjpeg_camera_records_and_snapshots(tmp_path):
    frames = jpeg_frames(20)

    async def mjpeg(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "multipart/x-mixed-replace; boundary=frame"}
        )
        await response.prepare(request)
        for i in range(600):  # a minute at most
            jpeg = frames[i % len(frames)]
            await response.write(
                b"--frame\r\nContent-Type: image/jpeg\r\n"
                + f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                + jpeg
                + b"\r\n"
            )
            await asyncio.sleep(0.1)
        return response

    app = web.Application()
    app.router.add_get("/video.mjpg", mjpeg)
    server = await serve(app)
    url = str(server.make_url("/video.mjpg"))
    hub = hub_at(
        tmp_path,
        f"cameras:\n  door:\n    url: '{url}'\n    open_timeout: 5\n"
        "    record:\n      mode: continuous\n      segment_seconds: 1\n",
    )
    saved = hub.bus.subscribe("saved", (RecordingSaved,))
    await hub.async_start()
    client = await signed_in_client(hub)
    try:
        await wait_for_state(hub, "camera.door", "online")
        snapshot = await client.get("/api/cameras/door/snapshot.jpg")
        assert snapshot.status == 200 and snapshot.content_type == "image/jpeg"
        assert (await snapshot.read())[:2] == b"\xff\xd8"
        await next_events(saved, 1)  # a whole 1 s segment
        source = hub.cameras["door"].source
        await wait_until(lambda: source.stats.packets > 20, 10, "two seconds of frames")
        cameras = (await (await client.get("/api/cameras")).json())["cameras"]
        stats = cameras[0]["stats"]
        assert stats["codec"] == "mjpeg" and stats["packets"] > 20
        assert (await client.get("/api/cameras/nope/snapshot.jpg")).status == 404
    finally:
        await client.close()
        await hub.async_stop()
        await server.close()
    segments = await indexed_segments(tmp_path)
    assert segments
    with av.open(str(tmp_path / "data" / "footage" / segments[0].path)) as recorded:
        decoded = list(recorded.decode(video=0))
    # Every MJPEG frame is a keyframe: a 1 s segment holds about 10 of them.
    assert len(decoded) == pytest.approx(10, abs=3)
    assert (decoded[0].width, decoded[0].height) == (320, 240)


def write_hls(folder: Path, seconds: int) -> None:
    """An HLS playlist of one-second MPEG-TS segments of H.264, written with PyAV."""
    folder.mkdir()
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
    for n in range(seconds):
        with av.open(str(folder / f"s{n}.ts"), "w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=10, options={"preset": "ultrafast", "g": "10"})
            stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
            stream.codec_context.time_base = Fraction(1, 10)
            out.options["mpegts_copyts"] = "1"
            for i in range(10):
                image = np.full((180, 320, 3), (n * 10 + i) * 3 % 255, np.uint8)
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = n * 10 + i
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        lines += ["#EXTINF:1.0,", f"s{n}.ts"]
    lines.append("#EXT-X-ENDLIST")
    (folder / "index.m3u8").write_text("\n".join(lines) + "\n")


async def test_hls_camera_records(tmp_path):
    write_hls(tmp_path / "hls", 4)
    app = web.Application()
    app.router.add_static("/hls/", tmp_path / "hls")
    server = await serve(app)
    url = str(server.make_url("/hls/index.m3u8"))
    hub = hub_at(
        tmp_path,
        f"cameras:\n  drive:\n    url: '{url}'\n    open_timeout: 5\n"
        "    record:\n      mode: continuous\n      segment_seconds: 2\n",
    )
    await hub.async_start()
    try:
        await wait_for_state(hub, "camera.drive", "online")
        # The playlist ends (#EXT-X-ENDLIST) once all of it was read: the camera goes down.
        await wait_for_state(hub, "camera.drive", "offline")
    finally:
        await hub.async_stop()
        await server.close()
    segments = await indexed_segments(tmp_path)
    total = 0
    for segment in segments:
        with av.open(str(footage_path(tmp_path, segment))) as recorded:
            total += sum(1 for _ in recorded.decode(video=0))
    # The whole 4 s playlist is read (then the stream ends and is retried).
    assert total >= 38


async def test_an_mjpeg_camera_that_stops_sending_is_reconnected(tmp_path):
    # The connection stays open but nothing comes: FFmpeg's own read timeout (stall_seconds)
    # gives up, and the camera goes offline with a reason, then back online.
    await stalled_then_reconnected(tmp_path, keeps_talking=False)


async def test_a_camera_whose_connection_lives_on_without_video_is_reconnected(tmp_path):
    # The MJPEG stream goes on sending bytes, but no picture: the socket is never silent,
    # so FFmpeg's own timeout never fires; the source's watchdog sees no video and
    # reconnects (the stuck connection is abandoned).
    await stalled_then_reconnected(tmp_path, keeps_talking=True)


async def stalled_then_reconnected(tmp_path, keeps_talking: bool) -> None:
    """An MJPEG camera whose first connection sends 10 pictures, then stalls (silent, or
    with blank lines when `keeps_talking`), goes offline as stalled and comes back."""
    frames = jpeg_frames(10)
    hang = asyncio.Event()
    connections = []

    async def mjpeg(request: web.Request) -> web.StreamResponse:
        connections.append(request)
        response = web.StreamResponse(
            headers={"Content-Type": "multipart/x-mixed-replace; boundary=frame"}
        )
        await response.prepare(request)
        for jpeg in frames * (1 if len(connections) == 1 else 100):
            await response.write(
                b"--frame\r\nContent-Type: image/jpeg\r\n"
                + f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                + jpeg
                + b"\r\n"
            )
            await asyncio.sleep(0.1)
        while keeps_talking and not hang.is_set():  # blank lines, never a picture
            await response.write(b"\r\n")
            await asyncio.sleep(0.1)
        await hang.wait()  # the first connection stalls for good
        return response

    app = web.Application()
    app.router.add_get("/video.mjpg", mjpeg)
    server = await serve(app)
    url = str(server.make_url("/video.mjpg"))
    hub = hub_at(
        tmp_path,
        f"cameras:\n  door:\n    url: '{url}'\n    open_timeout: 5\n    stall_seconds: 1\n"
        "    record:\n      mode: 'off'\n",
    )
    await hub.async_start()
    try:
        await wait_for_state(hub, "camera.door", "online")
        reason = (await wait_for_state(hub, "camera.door", "offline", timeout=20))["reason"]
        assert "stalled" in reason
        await wait_until(lambda: len(connections) >= 2, 20, "a reconnect")
        await wait_for_state(hub, "camera.door", "online", timeout=20)
    finally:
        hang.set()
        await hub.async_stop()
        await server.close()
