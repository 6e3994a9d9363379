"""`/api/cameras/{camera}/live`: the demo camera's H.264, stream-copied to fMP4 over a WebSocket."""

from __future__ import annotations

import io
import json

import av
import numpy as np
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from plugins.pyav_source.privacy import MASK_Y
from tests.helpers import wait_until
from tests.web_clients import signed_in_client
from web.keys import HUB_KEY

CONFIG = (
    "cameras:\n"
    "  yard:\n"
    "    url: demo://?period=4&walk=3&first=0.5\n"
    "    record:\n"
    "      mode: 'off'\n"
)


async def start(make_hub, config: str = CONFIG) -> TestClient:
    hub = make_hub(config)
    await hub.async_start()
    return await signed_in_client(hub)


async def stop(client: TestClient) -> None:
    hub = client.app[HUB_KEY]
    await client.close()
    await hub.async_stop()


async def receive_video(client: TestClient, fragments: int) -> tuple[dict, list[bytes]]:
    socket = await client.ws_connect("/api/cameras/yard/live")
    codec = json.loads((await socket.receive(timeout=20)).data)
    parts: list[bytes] = []
    while len(parts) < fragments + 1:
        message = await socket.receive(timeout=20)
        assert message.type == WSMsgType.BINARY, message
        parts.append(message.data)
    await socket.close()
    return codec, parts


async def test_viewer_gets_codec_then_init_then_fragments_that_decode_to_moving_video(make_hub):
    client = await start(make_hub)
    try:
        codec, parts = await receive_video(client, fragments=25)
        # Baseline profile, as the demo encoder makes it, read from the stream's own SPS.
        assert codec["type"] == "codec" and codec["codec"].startswith("avc1.42")
        assert codec["mime"] == f'video/mp4; codecs="{codec["codec"]}"'
        assert parts[0][4:8] == b"ftyp" and b"moov" in parts[0]
        assert all(p[4:8] == b"moof" for p in parts[1:])
        with av.open(io.BytesIO(b"".join(parts)), format="mp4") as container:
            frames = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
        assert len(frames) >= 24  # each fragment is one whole frame
        assert frames[0].shape == (360, 640)
        # The figure walks: pictures a couple of seconds apart differ.
        assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).max() > 50
        # Nobody watching: the muxer stops with the last viewer.
        source = client.app[HUB_KEY].cameras["yard"].source
        assert source is not None
        await wait_until(lambda: source.live.viewers == 0, what="no viewers")
    finally:
        await stop(client)


async def test_second_viewer_starts_at_a_keyframe_without_waiting(make_hub):
    client = await start(make_hub)
    try:
        first = await client.ws_connect("/api/cameras/yard/live")
        await first.receive(timeout=20)
        await first.receive(timeout=20)  # init
        await first.receive(timeout=20)  # a fragment: the muxer runs
        _, parts = await receive_video(client, fragments=3)
        with av.open(io.BytesIO(b"".join(parts)), format="mp4") as container:
            packets = [p for p in container.demux(video=0) if p.size]
        assert packets[0].is_keyframe
        await first.close()
    finally:
        await stop(client)


async def test_unknown_camera_is_404(make_hub):
    client = await start(make_hub, "{}\n")
    try:
        response = await client.get("/api/cameras/nope/live")
        assert response.status == 404
    finally:
        await stop(client)


async def test_each_view_is_audited_and_a_viewer_needs_a_grant(make_hub):
    client = await start(make_hub)
    hub = client.app[HUB_KEY]
    try:
        await receive_video(client, fragments=1)
        rows = await hub.audit.async_query(action="live.view")
        assert [(r["user"], r["target"]) for r in rows] == [(client.username, "yard")]
        stranger = await signed_in_client(hub, role="viewer", cameras=["other"])
        response = await stranger.get("/api/cameras/yard/live")
        assert response.status == 404  # as for a camera that does not exist
        await stranger.close()
    finally:
        await stop(client)


async def test_viewers_of_a_face_blur_camera_get_pictures_not_raw_video(make_hub):
    client = await start(make_hub, CONFIG + "    face_blur: true\n")
    hub = client.app[HUB_KEY]
    try:
        codec, parts = await receive_video(client, fragments=1)  # the admin sees the video
        assert codec["type"] == "codec" and parts
        viewer = await signed_in_client(hub, role="viewer", cameras=["yard"])
        socket = await viewer.ws_connect("/api/cameras/yard/live")
        assert json.loads((await socket.receive(timeout=20)).data) == {
            "type": "unsupported",
            "reason": "faces",
        }
        assert (await socket.receive(timeout=5)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
        await viewer.close()
    finally:
        await stop(client)


async def test_camera_with_privacy_masks_streams_only_the_masked_picture(make_hub):
    # Everything below 45 % of the height is masked: where the figure walks.
    masked = CONFIG + "    privacy_masks:\n      - [[0, 0.45], [1, 0.45], [1, 1], [0, 1]]\n"
    client = await start(make_hub, masked)
    try:
        _, parts = await receive_video(client, fragments=20)
        with av.open(io.BytesIO(b"".join(parts)), format="mp4") as container:
            # The Y plane as coded (a gray conversion would stretch 16..235 to 0..255).
            frames = [f.to_ndarray(format="yuv420p")[:360] for f in container.decode(video=0)]
        assert len(frames) >= 19
        for frame in frames:
            # Rows well inside the mask (codec edges blur a few pixels at its border).
            assert (frame[round(0.45 * 360) + 8 :] == MASK_Y).all()
            assert frame[: round(0.45 * 360) - 8].std() > 10  # the garden is still there
    finally:
        await stop(client)


async def test_a_resolution_change_mid_stream_sends_a_new_codec_and_init(make_hub, rtsp_server):
    from tests.servers.fixtures import Mount

    resizing = Mount("/cam1", width=640, height=360, gop=15, resize_after=3, resize_to=(320, 180))
    server = rtsp_server([resizing])
    config = f"cameras:\n  yard:\n    url: {server.url('/cam1')}\n    record:\n      mode: 'off'\n"
    client = await start(make_hub, config)
    try:
        socket = await client.ws_connect("/api/cameras/yard/live")
        streams: list[list[bytes]] = []
        while len(streams) < 2 or len(streams[-1]) < 10:
            message = await socket.receive(timeout=20)
            if message.type == WSMsgType.TEXT:
                assert json.loads(message.data)["type"] == "codec"
                streams.append([])
            else:
                assert message.type == WSMsgType.BINARY
                streams[-1].append(message.data)
        await socket.close()
        sizes = []
        for parts in streams[:2]:
            assert parts[0][4:8] == b"ftyp"
            with av.open(io.BytesIO(b"".join(parts)), format="mp4") as container:
                frame = next(container.decode(video=0))
                sizes.append((frame.width, frame.height))
        assert sizes == [(640, 360), (320, 180)]
    finally:
        await stop(client)
