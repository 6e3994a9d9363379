"""Object detection interfaces: what detector plugins return, and how regions are chosen.

A detector (`detectors.<id>`, built by a plugin's `detector_types` entry) is
given RGB crops around motion, never whole frames when nothing moves, and
answers with labelled boxes in each crop's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

RGB = npt.NDArray[np.uint8]
"""An H x W x 3 uint8 RGB image."""


@dataclass(frozen=True)
class Detection:
    """One object found in an image: label, score 0..1, box in that image's pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]
    """(x0, y0, x1, y1), x1/y1 exclusive."""


class DetectorError(Exception):
    """A detector could not run (model missing, server down); the message is for users."""


@runtime_checkable
class ObjectDetector(Protocol):
    """What a `detectors.<id>` entry's `create` returns."""

    async def async_detect(self, images: list[RGB]) -> list[list[Detection]]:
        """Detections for each image, in order. Run blocking work in a thread.

        Raise DetectorError when the detector cannot answer; the hub skips the
        frame and keeps the camera's motion events going.
        """
        ...
