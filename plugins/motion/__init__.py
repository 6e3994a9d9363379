"""Built-in motion detection: a numpy-only detector for every camera (see detector.py)."""

from __future__ import annotations

from typing import Any

from hub import CameraConfig, hookimpl, polygon_mask
from plugins.motion.detector import MotionDetector

__version__ = "1.0.0"

# Masks are normalised polygons: rasterised once at this size; the detector rescales them.
MASK_SIZE = (320, 180)


@hookimpl(trylast=True)
def motion_detector(hub: Any, camera_id: str, config: CameraConfig) -> MotionDetector:
    """The default motion detector, with the camera's settings and masks."""
    motion = config.motion
    mask = polygon_mask([list(p) for p in config.masks], *MASK_SIZE) if config.masks else None
    return MotionDetector(
        threshold=motion.threshold,
        min_area=motion.min_area,
        frame_height=motion.frame_height,
        mask=mask,
    )
