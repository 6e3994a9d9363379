"""The numpy motion detector, specified on synthetic sequences with known ground truth."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pytest

from hub.detection.polygons import polygon_mask
from plugins.motion.detector import ACTIVITY_SECONDS, NOMINAL_INTERVAL, Box, MotionDetector
from tests.plugins.motion_scenes import Scene, SceneFrame, box_iou

ACTIVITY_FRAMES = round(ACTIVITY_SECONDS / NOMINAL_INTERVAL)
"""Frames a pixel counts as moving after it changed, at the 5 fps `detect` assumes."""

WIDTH, HEIGHT = 640, 360
CALIBRATION = 30
"""Frames of empty room a detector watches before a scene starts."""


def calibrated(scene: Scene, detector: MotionDetector | None = None) -> MotionDetector:
    """A detector that has watched the empty room long enough to be calibrated."""
    detector = detector or MotionDetector()
    for frame in scene.static(CALIBRATION):
        detector.detect(frame.gray)
    assert not detector.calibrating
    return detector


def detect_all(detector: MotionDetector, frames: Iterable[SceneFrame]) -> list[list[Box]]:
    return [detector.detect(frame.gray) for frame in frames]


def assert_valid(boxes: list[Box], width: int = WIDTH, height: int = HEIGHT) -> None:
    for box in boxes:
        assert all(type(v) is int for v in box), box
        x0, y0, x1, y1 = box
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, box


def best_iou(boxes: list[Box], truth: Box) -> float:
    return max((box_iou(box, truth) for box in boxes), default=0.0)


# -- an empty room -----------------------------------------------------------


@pytest.mark.parametrize("noise", [3.0, 8.0, 16.0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_noisy_static_scene_gives_no_boxes_once_calibrated(noise: float, seed: int) -> None:
    detector = MotionDetector()
    calibrating = 0
    for frame in Scene(WIDTH, HEIGHT, seed=seed, noise=noise).static(120):
        boxes = detector.detect(frame.gray)
        if detector.calibrating:
            calibrating += 1
        else:
            assert boxes == []
    assert calibrating <= 10


def test_calibration_takes_a_few_frames_and_starts_again_on_reset() -> None:
    scene = Scene(WIDTH, HEIGHT, seed=5)
    detector = MotionDetector()
    states = []
    for frame in scene.static(12):
        assert detector.detect(frame.gray) == []
        states.append(detector.calibrating)
    assert states[0] is True
    assert states[-1] is False
    detector.reset()
    assert detector.calibrating
    assert detector.detect(next(scene.static(1)).gray) == []
    assert detector.calibrating


# -- a figure walking across -------------------------------------------------


@pytest.mark.parametrize("frames", [40, 120, 360], ids=["brisk", "walk", "slow"])
@pytest.mark.parametrize("seed", [1, 7])
def test_a_textured_figure_crossing_gives_one_tight_box_in_every_frame(
    frames: int, seed: int
) -> None:
    scene = Scene(WIDTH, HEIGHT, seed=seed)
    detector = calibrated(scene)
    ious = []
    for frame in scene.crossing(frames):
        boxes = detector.detect(frame.gray)
        assert_valid(boxes)
        assert len(boxes) == 1, boxes
        assert frame.box is not None
        ious.append(box_iou(boxes[0], frame.box))
    # A background that soaks up the figure leaves a trail and stretches the
    # box behind it (Frigate reaches 0.4-0.5 on the slow walk).
    assert min(ious) > 0.5
    assert np.mean(ious) >= 0.6


def test_the_figure_is_found_at_720p_and_boxes_are_in_input_pixels() -> None:
    scene = Scene(1280, 720, seed=3)
    detector = calibrated(scene)
    for frame in scene.crossing(60):
        boxes = detector.detect(frame.gray)
        assert_valid(boxes, 1280, 720)
        assert frame.box is not None
        assert len(boxes) == 1
        assert box_iou(boxes[0], frame.box) >= 0.6


def test_two_figures_apart_give_two_boxes() -> None:
    scene = Scene(WIDTH, HEIGHT, seed=4)
    detector = calibrated(scene)
    for i in range(60):
        x, y = scene.walk_position(i / 200)
        frame = scene.render((x, y), (x + WIDTH // 2, y - HEIGHT // 4))
        boxes = detector.detect(frame.gray)
        assert len(boxes) == 2, boxes
        for truth in frame.boxes:
            assert best_iou(boxes, truth) >= 0.6


def test_a_figure_that_stops_is_dropped_and_found_again_when_it_moves_on() -> None:
    scene = Scene(WIDTH, HEIGHT, seed=3)
    detector = calibrated(scene)
    walk = list(scene.crossing(120))
    assert all(len(boxes) == 1 for boxes in detect_all(detector, walk[:60]))
    stopped = [detector.detect(scene.render(scene.walk_position(59 / 119)).gray) for _ in range(60)]
    assert all(len(boxes) == 1 for boxes in stopped[:10])  # still there: just stopped
    assert all(boxes == [] for boxes in stopped[ACTIVITY_FRAMES + 1 :])  # part of the scene now
    for frame in walk[60:80]:
        boxes = detector.detect(frame.gray)
        assert frame.box is not None
        assert best_iou(boxes, frame.box) > 0.4


def test_a_figure_present_during_calibration_leaves_no_lasting_ghost() -> None:
    scene = Scene(WIDTH, HEIGHT, seed=2)
    detector = MotionDetector()
    start = scene.walk_position(0.0)
    for _ in range(CALIBRATION):
        assert detector.detect(scene.render(start).gray) == []
    walk = scene.crossing(120)
    assert detector.detect(next(walk).gray) == []  # has not moved yet
    stray = []
    ious = []
    for frame in walk:
        boxes = detector.detect(frame.gray)
        assert frame.box is not None
        ious.append(best_iou(boxes, frame.box))
        stray.append(sum(1 for box in boxes if box_iou(box, frame.box) == 0.0))
    # Where the figure stood, the room shows through: it is reported (with the
    # figure while they touch) as long as it counts as a recent change, then learnt.
    assert min(ious) > 0.3
    assert sum(1 for n in stray if n) <= ACTIVITY_FRAMES
    assert not any(stray[-60:])
    assert min(ious[-60:]) >= 0.6


# -- lighting ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("gain", "offset"),
    [(0.5, 0.0), (0.6, 40.0), (1.3, 20.0), (1.0, -25.0), (0.9, 0.0)],
    ids=["darker", "ir-switch", "brighter", "dimmer", "bright-parts-dim"],
)
def test_a_sudden_change_of_lighting_recalibrates_instead_of_a_storm_of_boxes(
    gain: float, offset: float
) -> None:
    scene = Scene(WIDTH, HEIGHT, seed=3)
    detector = calibrated(scene)
    results = []
    calibrating = []
    for frame in scene.lights(60, gain, offset):
        results.append(detector.detect(frame.gray))
        calibrating.append(detector.calibrating)
    assert sum(1 for boxes in results if boxes) <= 2
    assert any(calibrating[:3])
    assert not calibrating[-1]
    assert results[-30:] == [[]] * 30


def test_motion_after_a_change_of_lighting_is_found_again() -> None:
    scene = Scene(WIDTH, HEIGHT, seed=6)
    detector = calibrated(scene)
    detect_all(detector, scene.lights(20, 0.5, 10.0))
    scene.background = np.clip(scene.background * 0.5 + 10.0, 0, 255).astype(np.int16)
    for frame in scene.crossing(60):
        boxes = detector.detect(frame.gray)
        assert frame.box is not None
        assert len(boxes) == 1
        assert box_iou(boxes[0], frame.box) >= 0.5


# -- masks -------------------------------------------------------------------


def test_a_mask_hides_the_motion_inside_it() -> None:
    scene = Scene(WIDTH, HEIGHT, seed=1)
    # The left half of the picture, given at a different size than the frames.
    mask = polygon_mask([[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]], 160, 90)
    detector = calibrated(scene, MotionDetector(mask=mask))
    for frame in scene.crossing(120):
        boxes = detector.detect(frame.gray)
        assert frame.box is not None
        x0, _, x1, _ = frame.box
        if x1 <= WIDTH // 2:
            assert boxes == []  # wholly under the mask
        elif x0 >= WIDTH // 2 + 8:
            assert len(boxes) == 1  # wholly out of it
            assert box_iou(boxes[0], frame.box) >= 0.6
        for box in boxes:
            assert box[0] >= WIDTH // 2 - 8  # nothing reported from under the mask


def test_a_mask_covering_everything_reports_nothing() -> None:
    scene = Scene(WIDTH, HEIGHT, seed=1)
    detector = calibrated(scene, MotionDetector(mask=np.ones((HEIGHT, WIDTH), dtype=bool)))
    assert detect_all(detector, scene.crossing(40)) == [[]] * 40


def test_polygon_mask_square() -> None:
    mask = polygon_mask([[(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]], 8, 8)
    expected = np.zeros((8, 8), dtype=bool)
    expected[2:6, 2:6] = True
    assert mask.shape == (8, 8) and mask.dtype == bool
    np.testing.assert_array_equal(mask, expected)


def test_polygon_mask_triangle() -> None:
    size = 200
    mask = polygon_mask([[(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]], size, size)
    ys, xs = np.mgrid[0:size, 0:size]
    # Pixel centres above the diagonal x + y = 1 are inside, those below are
    # not; those on it may go either way.
    centre_sum = xs + ys + 1
    assert mask[centre_sum < size].all()
    assert not mask[centre_sum > size].any()
    assert abs(mask.mean() - 0.5) < 0.01
    # The orientation of the points does not matter.
    reverse = polygon_mask([[(0.0, 1.0), (1.0, 0.0), (0.0, 0.0)]], size, size)
    np.testing.assert_array_equal(mask, reverse)


def test_polygon_mask_concave_l() -> None:
    corner = [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]
    mask = polygon_mask([corner], 10, 10)
    expected = np.ones((10, 10), dtype=bool)
    expected[:5, 5:] = False  # the notch of the L
    np.testing.assert_array_equal(mask, expected)


def test_polygon_mask_unites_polygons_and_checks_its_input() -> None:
    left = [(0.0, 0.0), (0.2, 0.0), (0.2, 1.0), (0.0, 1.0)]
    right = [(0.8, 0.0), (1.0, 0.0), (1.0, 1.0), (0.8, 1.0)]
    mask = polygon_mask([left, right], 10, 4)
    np.testing.assert_array_equal(mask[0], [1, 1, 0, 0, 0, 0, 0, 0, 1, 1])
    assert polygon_mask([], 4, 3).shape == (3, 4)
    assert not polygon_mask([], 4, 3).any()
    with pytest.raises(ValueError, match="at least 3 points"):
        polygon_mask([[(0.0, 0.0), (1.0, 1.0)]], 4, 4)
    with pytest.raises(ValueError, match="positive"):
        polygon_mask([left], 0, 4)


# -- odd frames --------------------------------------------------------------


def test_a_change_of_frame_size_starts_again() -> None:
    small, large = Scene(WIDTH, HEIGHT, seed=8), Scene(1280, 720, seed=8)
    detector = calibrated(small)
    assert detector.detect(next(large.static(1)).gray) == []
    assert detector.calibrating
    detector = calibrated(large, detector)
    for frame in large.crossing(30):
        boxes = detector.detect(frame.gray)
        assert_valid(boxes, 1280, 720)
        assert frame.box is not None
        assert len(boxes) == 1 and box_iou(boxes[0], frame.box) >= 0.6


def constant(value: int, frames: int) -> Iterator[SceneFrame]:
    for _ in range(frames):
        yield SceneFrame(np.full((HEIGHT, WIDTH), value, dtype=np.uint8))


def test_black_and_constant_frames_give_nothing_and_never_divide_by_zero() -> None:
    detector = MotionDetector()
    with np.errstate(all="raise"):
        for value in (0, 0, 128, 255, 0):
            assert detect_all(detector, constant(value, 20)) == [[]] * 20
        # On a black picture, a white square that appears is motion.
        picture = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
        picture[100:200, 300:400] = 255
        for _ in range(3):
            boxes = detector.detect(picture)
            assert len(boxes) == 1
            assert box_iou(boxes[0], (300, 100, 400, 200)) >= 0.8


@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (7, 2), (3, 3), (50, 80)])
def test_frames_smaller_than_the_working_size_work(shape: tuple[int, int]) -> None:
    detector = MotionDetector()
    rng = np.random.default_rng(0)
    for _ in range(20):
        boxes = detector.detect(rng.integers(0, 256, shape, dtype=np.uint8))
        assert_valid(boxes, shape[1], shape[0])


def test_a_frame_that_is_a_view_into_a_larger_buffer_works() -> None:
    scene = Scene(WIDTH + 32, HEIGHT, seed=1)
    detector = MotionDetector()
    for frame in scene.static(CALIBRATION):
        detector.detect(frame.gray[:, 16 : 16 + WIDTH])
    for frame in scene.crossing(20):
        view = frame.gray[:, :WIDTH]  # not contiguous
        assert not view.flags.c_contiguous
        assert len(detector.detect(view)) == 1


def test_bad_input_is_refused() -> None:
    detector = MotionDetector()
    with pytest.raises(ValueError):
        detector.detect(np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(ValueError):
        detector.detect(np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(ValueError):
        detector.detect(np.zeros((0, 4), dtype=np.uint8))
    for bad in ({"threshold": 0}, {"threshold": 256}, {"min_area": -1}, {"frame_height": 2}):
        with pytest.raises(ValueError):
            MotionDetector(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MotionDetector(mask=np.zeros(5, dtype=bool))


# -- parameters --------------------------------------------------------------


def faint_crossing(scene: Scene, frames: int, brighter: int) -> Iterator[SceneFrame]:
    """A flat patch only `brighter` grey levels above what it covers (a shadow, a faint shape)."""
    height, width = scene.figure.shape
    for i in range(frames):
        x, y = scene.walk_position(i / (frames - 1))
        picture = scene.background.copy()
        picture[y : y + height, x : x + width] += brighter
        yield SceneFrame(scene.noisy(picture), ((x, y, x + width, y + height),))


def test_threshold_sets_the_smallest_change_that_counts() -> None:
    # Thresholds apply to the contrast-stretched picture: 12 levels on this
    # room (p4..p96 spans about 150 levels) are about 20 stretched levels.
    found = {}
    for threshold in (10, 30):
        scene = Scene(WIDTH, HEIGHT, seed=2, noise=2.0)
        detector = calibrated(scene, MotionDetector(threshold=threshold))
        boxes = detect_all(detector, faint_crossing(scene, 60, brighter=12))
        found[threshold] = sum(1 for b in boxes if b)
    assert found[10] == 60
    assert found[30] == 0


def test_min_area_sets_the_smallest_object_reported() -> None:
    found = {}
    for min_area in (10, 60):
        scene = Scene(WIDTH, HEIGHT, seed=2)
        scene.figure = scene.figure[:14, :14]  # about 4 x 4 working pixels
        detector = calibrated(scene, MotionDetector(min_area=min_area))
        boxes = detect_all(detector, scene.crossing(60))
        found[min_area] = sum(1 for b in boxes if b)
    assert found[10] >= 55
    assert found[60] == 0


@pytest.mark.parametrize("frame_height", [50, 100, 180])
def test_frame_height_sets_the_working_scale(frame_height: int) -> None:
    scene = Scene(WIDTH, HEIGHT, seed=1)
    detector = calibrated(scene, MotionDetector(frame_height=frame_height))
    assert detector.frame_height == frame_height
    ious = []
    for frame in scene.crossing(60):
        boxes = detector.detect(frame.gray)
        assert frame.box is not None
        assert len(boxes) == 1
        ious.append(box_iou(boxes[0], frame.box))
    assert np.mean(ious) >= 0.6


# -- frames seconds apart (adaptive decoding: one frame per keyframe while idle) -------


KEYFRAME_SECONDS = 2.0


def test_keyframes_seconds_apart_find_a_walker_and_forget_it_in_seconds_not_frames() -> None:
    scene = Scene(WIDTH, HEIGHT, seed=3)
    detector = MotionDetector()
    clock = 1000.0
    for frame in scene.static(CALIBRATION):  # a minute of an empty room, one frame per 2 s
        boxes = detector.detect_at(frame.gray, clock)
        assert boxes == [] or detector.calibrating
        clock += KEYFRAME_SECONDS
    assert not detector.calibrating
    # Between keyframes the figure walks far; each keyframe still shows it, and only it.
    walk = list(scene.crossing(8))
    for frame in walk[:5]:
        boxes = detector.detect_at(frame.gray, clock)
        clock += KEYFRAME_SECONDS
        assert frame.box is not None
        assert len(boxes) == 1 and best_iou(boxes, frame.box) > 0.5, boxes
    # It stops: it is part of the scene once ACTIVITY_SECONDS have passed, a few keyframes
    # (at 5 fps the same would take ACTIVITY_FRAMES frames; counted in frames, 50 s here).
    stopped = scene.walk_position(4 / 7)
    reported = []
    for _ in range(8):
        reported.append(bool(detector.detect_at(scene.render(stopped).gray, clock)))
        clock += KEYFRAME_SECONDS
    settled = int(ACTIVITY_SECONDS / KEYFRAME_SECONDS) + 1
    assert reported[0] and not any(reported[settled:]), reported


def test_frames_replayed_from_before_the_last_are_taken_in_stride() -> None:
    scene = Scene(WIDTH, HEIGHT, seed=5)
    detector = calibrated(scene)
    walk = list(scene.crossing(40))
    # The keyframe at t=20 shows the figure; then the source replays t=18.0..19.8 (older).
    detector.detect_at(walk[20].gray, 20.0)
    for i, frame in enumerate(walk[10:20]):
        boxes = detector.detect_at(frame.gray, 18.0 + i / 5)
        assert frame.box is not None and best_iou(boxes, frame.box) > 0.4
    for i, frame in enumerate(walk[21:30]):  # and live frames again after the keyframe
        boxes = detector.detect_at(frame.gray, 20.2 + i / 5)
        assert frame.box is not None and best_iou(boxes, frame.box) > 0.4
