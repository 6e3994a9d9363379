"""The demo camera's walker is a person to the bundled model, found the way the hub looks for it.

Each walk is encoded as the demo camera streams it, decoded and scaled to detection frames
as the camera source does, run through the built-in motion detector, and the bundled COCO
model (with the options the hub gives it) looks at the regions around the motion, as the
object loop does. A person must be found on the walker, with the score a camera needs by
default, in most frames where the walker is wholly in the picture; never on the empty garden.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
import pytest

import plugins.motion as motion_plugin
from hub import CameraConfig
from hub.detection.frames import Frame
from hub.detection.objects import regions_for
from hub.detection.tracker import Box, iou
from plugins.onnx_detector import OnnxDetector
from plugins.pyav_source.demo import DemoScene, write_demo_stream
from plugins.pyav_source.frames import FrameSampler

FPS = 10
HIT_SHARE = 0.7
"""Share of detection frames, walker wholly in view, in which it must be a person."""
CAMERA = CameraConfig(url="demo://")
PERSON_MIN_SCORE = CAMERA.objects.min_score_for("person")


@dataclass
class Look:
    """One detection frame: where the walker is (detection pixels), what was looked at,
    and the people found there with at least the default score."""

    time: float
    width: int
    truth: Box | None
    regions: list[tuple[int, int, int, int]]
    people: list[tuple[float, Box]]


@pytest.fixture
def detector(bundled_detector: OnnxDetector) -> OnnxDetector:
    return bundled_detector


def detection_frames(scene: DemoScene, seconds: float) -> list[Frame]:
    """The demo stream's first `seconds`, as the camera source hands them to detectors."""
    buf = io.BytesIO()
    write_demo_stream(
        buf, scene.width, scene.height, FPS, realtime=False, duration=seconds, scene=scene
    )
    sampler = FrameSampler("demo", CAMERA.detect.fps, CAMERA.detect.height)
    frames = []
    with av.open(io.BytesIO(buf.getvalue()), "r", format="mpegts") as container:
        for index, decoded in enumerate(container.decode(video=0)):
            if sampler.due(index / FPS):
                frames.append(sampler.make(decoded, index / FPS))
    return frames


def scaled(box: tuple[int, int, int, int] | None, factor: float) -> Box | None:
    """A picture box in detection-frame pixels."""
    if box is None:
        return None
    x0, y0, x1, y1 = box
    return x0 * factor, y0 * factor, x1 * factor, y1 * factor


def people_in(detector: OnnxDetector, rgb: np.ndarray, regions: list) -> list[tuple[float, Box]]:
    """People the model finds in `regions` of `rgb`, in frame pixels, at the default score."""
    crops = [rgb[y0:y1, x0:x1] for x0, y0, x1, y1 in regions]
    found = []
    for (x0, y0, _, _), detections in zip(regions, detector.detect(crops), strict=True):
        for d in detections:
            if d.label == "person" and d.score >= PERSON_MIN_SCORE:
                bx0, by0, bx1, by1 = d.box
                found.append((d.score, (bx0 + x0, by0 + y0, bx1 + x0, by1 + y0)))
    return found


def watch_walk(detector: OnnxDetector, scene: DemoScene, seconds: float) -> list[Look]:
    """Motion, then the model around it (and around the person last seen), frame by frame."""
    motion = motion_plugin.motion_detector(None, "demo", CAMERA)
    looks = []
    followed: list[Box] = []
    for frame in detection_frames(scene, seconds):
        width, height = frame.size
        boxes: list[Box] = [
            (float(x0), float(y0), float(x1), float(y1))
            for x0, y0, x1, y1 in motion.detect(frame.gray)
        ]
        truth = scaled(scene.figure_box(frame.time), height / scene.height)
        if not boxes + followed:
            looks.append(Look(frame.time, width, truth, [], []))
            continue
        regions = regions_for(boxes + followed, width, height)
        people = people_in(detector, frame.rgb(), regions)
        # The tracker keeps a moving object's box in the next look, as the object loop does.
        followed = [max(people)[1]] if people else []
        looks.append(Look(frame.time, width, truth, regions, people))
    return looks


def wholly_in_view(look: Look) -> bool:
    return look.truth is not None and look.truth[0] > 0 and look.truth[2] < look.width


@pytest.mark.parametrize("size", [(640, 360), (1280, 720), (320, 180)])
def test_the_walker_is_a_person_where_figure_box_says(detector, size):
    width, height = size
    scene = DemoScene(width, height)  # the demo camera's own schedule: first walk at 5 s
    looks = watch_walk(detector, scene, scene.first_walk + scene.walk_seconds + 1)
    walking = [look for look in looks if wholly_in_view(look)]
    assert len(walking) >= 15
    hits = [look for look in walking if any(iou(box, look.truth) >= 0.5 for _, box in look.people)]
    share = len(hits) / len(walking)
    scores = [max(look.people)[0] if look.people else 0.0 for look in walking]
    print(
        f"\n{width}x{height}: person in {share:.0%} of {len(walking)} frames, "
        f"median score {np.median(scores):.2f}"
    )
    assert share >= HIT_SHARE, [(round(look.time, 1), look.people) for look in walking]


def test_no_person_in_the_empty_garden(detector):
    scene = DemoScene()
    looks = watch_walk(detector, scene, scene.first_walk + scene.walk_seconds + 1)
    empty = [look for look in looks if look.truth is None]
    assert len(empty) >= 20
    # Motion finds nothing in the still garden, so the model is not even asked...
    assert all(look.regions == [] for look in empty if look.time < scene.first_walk)
    # ...and asked anyway, it sees nobody: not in the whole picture, not where the walker was.
    frame = detection_frames(scene, 1.0)[0]
    width, height = frame.size
    looked_at = sorted({region for look in looks for region in look.regions})
    assert looked_at
    assert people_in(detector, frame.rgb(), [(0, 0, width, height), *looked_at]) == []
