"""`/api/cameras/{camera}/live`: a camera's video as fragmented MP4 over a WebSocket, for MSE.

The protocol, per connection: a text message `{"type": "codec", "codec": "avc1.42C01E", "mime":
...}` so the browser can ask `MediaSource.isTypeSupported` before anything else, then binary
messages: the init segment, then media fragments starting at a keyframe. A new codec message
means the stream restarted (the client starts a fresh SourceBuffer). `{"type": "unsupported"}`
means the codec cannot go to a browser: use snapshots. The bytes are the camera's own, copied
(for a camera with privacy masks, the masked stream the source re-encodes for every reader).
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

from hub.cameras.source import LiveSource, LiveSubscription
from web import access

routes = web.RouteTableDef()
HEARTBEAT_SECONDS = 20.0


async def _forward(socket: web.WebSocketResponse, subscription: LiveSubscription) -> None:
    """Send codec, init and fragments until the feed or the socket ends."""
    last_init = b""
    async for segment in subscription:
        if segment.init and segment.data != last_init:
            if not segment.codec:
                await socket.send_json({"type": "unsupported", "reason": "codec"})
                return
            mime = f'video/mp4; codecs="{segment.codec}"'
            await socket.send_json({"type": "codec", "codec": segment.codec, "mime": mime})
            last_init = segment.data
        await socket.send_bytes(segment.data)


@routes.get("/api/cameras/{camera}/live")
@access.viewer
async def live_video(request: web.Request) -> web.WebSocketResponse:
    """Stream one camera's live video (stream copy) to one viewer; each view is audited."""
    camera_id = request.match_info["camera"]
    runtime = access.camera_runtime(request, camera_id)
    source = runtime.source
    if not isinstance(source, LiveSource):
        raise web.HTTPNotFound(text="this camera has no live video; use its snapshots")
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=4096)
    await socket.prepare(request)
    if not access.sees_faces(request, runtime.config.face_blur):
        # Faces are blurred in snapshots only: a viewer gets those, never the raw video.
        await socket.send_json({"type": "unsupported", "reason": "faces"})
        await socket.close()
        return socket
    await access.audit(request, "live.view", camera_id)
    subscription = source.live_subscribe()
    sender = asyncio.get_running_loop().create_task(
        _forward(socket, subscription), name=f"live:{camera_id}"
    )
    receiver = asyncio.get_running_loop().create_task(_drain(socket), name="live-recv")
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        subscription.close()
        for task in (sender, receiver):
            task.cancel()
        for task in (sender, receiver):
            with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
                await task
        await socket.close()
    return socket


async def _drain(socket: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    async for message in socket:
        if message.type == WSMsgType.ERROR:
            return
