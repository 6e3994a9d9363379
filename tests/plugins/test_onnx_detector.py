"""The `onnx` detector on tiny ONNX models whose answers are known: decoding, NMS, letterboxing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto
from pydantic import ValidationError

import plugins.onnx_detector as onnx_detector
from hub.core import Hub
from hub.detection.letterbox import PAD_VALUE, Letterbox, draw_letterboxed
from hub.detection.object_detector import Detection, DetectorError, ObjectDetector
from plugins.onnx_detector import COCO_LABELS, OnnxDetector, OnnxDetectorOptions
from tests.plugins.onnx_models import (
    constant_model,
    picture,
    white_box_finder,
    yolov8_rows,
)

LABELS = ["person", "car", "dog"]


@pytest.fixture
def hub(make_hub) -> Hub:
    """A hub that is built but not started: enough for `create` to find files."""
    return make_hub()


def build(hub: Hub, **options: Any) -> OnnxDetector:
    """An `onnx` detector made the way the hub makes one from a config entry."""
    (spec,) = onnx_detector.detector_types()
    detector = spec.create(hub, "test", spec.options.model_validate(options))
    assert isinstance(detector, OnnxDetector)
    return detector


def boxes(detections: list[Detection]) -> list[tuple[str, tuple[float, ...]]]:
    return [(d.label, d.box) for d in detections]


# ---------------------------------------------------------------- decoding


async def test_yolov8_outputs_are_decoded_exactly(hub, tmp_path):
    # [1, 4+3, 10]: cx, cy, w, h then one score per class; no objectness.
    scores = np.zeros((10, 3), np.float32)
    scores[0] = [0.05, 0.92, 0.10]  # a car
    scores[1] = [0.41, 0.00, 0.00]  # a person, just over the 0.4 threshold
    scores[2] = [0.39, 0.00, 0.00]  # just under: dropped
    scores[3] = [0.10, 0.20, 0.75]  # a dog
    centres = [(20, 16, 8, 12), (40, 40, 20, 10), (5, 5, 4, 4), (50, 20, 6, 30)]
    centres += [(0, 0, 0, 0)] * 6  # candidates that score nothing
    model = constant_model(tmp_path / "v8.onnx", {"output0": yolov8_rows(centres, scores)})
    detector = build(hub, model=str(model), labels=LABELS)
    assert detector.layout.kind == "yolov8" and detector.layout.num_classes == 3
    assert isinstance(detector, ObjectDetector)

    # An image the size of the model input: no scaling, no bars.
    [found] = await detector.async_detect([picture(64, 64)])

    assert boxes(found) == [
        ("car", (16.0, 10.0, 24.0, 22.0)),
        ("dog", (47.0, 5.0, 53.0, 35.0)),
        ("person", (30.0, 35.0, 50.0, 45.0)),
    ]
    assert [d.score for d in found] == pytest.approx([0.92, 0.75, 0.41])

    lower = build(hub, model=str(model), labels=LABELS, score_threshold=0.3)
    [found] = await lower.async_detect([picture(64, 64)])
    assert [d.score for d in found] == pytest.approx([0.92, 0.75, 0.41, 0.39])


async def test_yolov5_scores_are_objectness_times_class_score(hub, tmp_path):
    # [1, 12, 5+3]: cx, cy, w, h, objectness, class scores.
    rows = np.zeros((1, 12, 8), np.float32)
    rows[0, 0] = [10, 10, 4, 6, 0.90, 0.10, 0.95, 0.00]  # car 0.855
    rows[0, 1] = [30, 30, 10, 10, 0.50, 0.90, 0.00, 0.00]  # person 0.45
    rows[0, 2] = [50, 50, 8, 8, 0.90, 0.40, 0.00, 0.00]  # person 0.36: under 0.4
    rows[0, 3] = [40, 10, 2, 2, 0.30, 0.00, 0.00, 1.00]  # objectness under 0.4
    model = constant_model(tmp_path / "v5.onnx", {"output": rows})
    detector = build(hub, model=str(model), labels=LABELS)
    assert detector.layout.kind == "yolov5" and detector.layout.num_classes == 3

    [found] = await detector.async_detect([picture(64, 64)])

    assert boxes(found) == [("car", (8.0, 7.0, 12.0, 13.0)), ("person", (25.0, 25.0, 35.0, 35.0))]
    assert [d.score for d in found] == pytest.approx([0.9 * 0.95, 0.5 * 0.9])


def nms_model(tmp_path: Path) -> Path:
    corners = [
        (10, 10, 30, 30, 0, 0.9),  # person
        (12, 10, 32, 30, 0, 0.8),  # person, IoU 0.82 with the first: suppressed
        (12, 10, 32, 30, 1, 0.7),  # the same box as a car: another class, kept
        (40, 40, 60, 60, 0, 0.6),  # person elsewhere
        (20, 10, 40, 30, 0, 0.5),  # person, IoU 1/3 with the first
    ]
    centres = [((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0) for x0, y0, x1, y1, _, _ in corners]
    scores = np.zeros((len(corners) + 3, 3), np.float32)
    for index, (*_, label, score) in enumerate(corners):
        scores[index, label] = score
    rows = yolov8_rows(centres + [(0, 0, 0, 0)] * 3, scores)
    return constant_model(tmp_path / "nms.onnx", {"output0": rows})


async def test_nms_keeps_the_best_of_overlapping_boxes_of_one_class(hub, tmp_path):
    model = nms_model(tmp_path)
    detector = build(hub, model=str(model), labels=LABELS)
    [found] = await detector.async_detect([picture(64, 64)])
    assert [(d.label, d.box, round(d.score, 3)) for d in found] == [
        ("person", (10.0, 10.0, 30.0, 30.0), 0.9),
        ("car", (12.0, 10.0, 32.0, 30.0), 0.7),
        ("person", (40.0, 40.0, 60.0, 60.0), 0.6),
        ("person", (20.0, 10.0, 40.0, 30.0), 0.5),
    ]

    stricter = build(hub, model=str(model), labels=LABELS, nms_iou=0.3)
    [found] = await stricter.async_detect([picture(64, 64)])
    assert [d.score for d in found] == pytest.approx([0.9, 0.7, 0.6])


def ssd_outputs(order: str, units: str) -> dict[str, np.ndarray]:
    # Four detections, of which num_detections says three are real.
    corners = np.array([[8, 16, 24, 48], [32, 0, 64, 20], [0, 0, 4, 4], [10, 10, 20, 20]], float)
    if order == "yxyx":
        corners = corners[:, [1, 0, 3, 2]]
    if units == "normalized":
        corners /= 64
    return {
        "detection_boxes": corners[None].astype(np.float32),
        "detection_scores": np.array([[0.8, 0.6, 0.2, 0.99]], np.float32),
        "detection_classes": np.array([[2, 0, 1, 1]], np.float32),
        "num_detections": np.array([3], np.float32),
    }


@pytest.mark.parametrize(
    ("order", "units"), [("yxyx", "normalized"), ("xyxy", "pixels"), ("yxyx", "pixels")]
)
async def test_ssd_boxes_scores_classes_and_count(hub, tmp_path, order, units):
    model = constant_model(tmp_path / "ssd.onnx", ssd_outputs(order, units))
    detector = build(hub, model=str(model), labels=LABELS, ssd_box_order=order, ssd_box_units=units)
    assert detector.layout.kind == "ssd"

    [found] = await detector.async_detect([picture(64, 64)])

    assert boxes(found) == [("dog", (8.0, 16.0, 24.0, 48.0)), ("person", (32.0, 0.0, 64.0, 20.0))]
    assert [d.score for d in found] == pytest.approx([0.8, 0.6])


async def test_ssd_outputs_without_telling_names_are_taken_in_tensorflow_order(hub, tmp_path):
    named = ssd_outputs("yxyx", "normalized")
    outputs = {
        "out_a": named["detection_boxes"],
        "out_b": named["detection_classes"],
        "out_c": named["detection_scores"],
        "out_d": named["num_detections"],
    }
    model = constant_model(tmp_path / "ssd.onnx", outputs)
    detector = build(hub, model=str(model), labels=LABELS)
    [found] = await detector.async_detect([picture(64, 64)])
    assert boxes(found) == [("dog", (8.0, 16.0, 24.0, 48.0)), ("person", (32.0, 0.0, 64.0, 20.0))]


# ---------------------------------------------------------------- letterboxing


# (image width, height), white rectangle in it, model input (width, height).
SCENES = [
    pytest.param((128, 64), (20, 10, 60, 50), (64, 64), id="landscape-halved"),
    pytest.param((64, 128), (10, 30, 40, 90), (64, 64), id="portrait-halved"),
    pytest.param((32, 16), (3, 2, 17, 11), (64, 64), id="landscape-doubled"),
    pytest.param((16, 32), (4, 6, 10, 20), (64, 64), id="portrait-doubled"),
    pytest.param((128, 66), (20, 10, 60, 50), (64, 64), id="odd-bar"),
    pytest.param((128, 64), (0, 0, 30, 64), (64, 48), id="wide-input"),
    pytest.param((64, 64), (1, 2, 3, 4), (64, 64), id="same-size"),
]


@pytest.mark.parametrize(("size", "rect", "model_size"), SCENES)
async def test_boxes_map_back_through_the_letterbox_exactly(hub, tmp_path, size, rect, model_size):
    model = white_box_finder(tmp_path / "finder.onnx", size=model_size)
    detector = build(hub, model=str(model), labels=["white"])
    assert (detector.input.width, detector.input.height) == model_size

    [found] = await detector.async_detect([picture(*size, rect)])

    assert found == [Detection("white", pytest.approx(0.9), tuple(map(float, rect)))]


async def test_ssd_on_a_uint8_channels_last_input_maps_back_exactly(hub, tmp_path):
    model = white_box_finder(
        tmp_path / "ssd.onnx", size=(64, 64), head="ssd", channels_last_uint8=True
    )
    detector = build(hub, model=str(model), labels=["white"])
    assert detector.layout.kind == "ssd" and detector.input.describe() == "64x64 uint8 NHWC"

    found = await detector.async_detect(
        [picture(64, 128, (10, 30, 40, 90)), picture(32, 16, (3, 2, 17, 11))]
    )

    assert boxes(found[0]) == [("white", (10.0, 30.0, 40.0, 90.0))]
    assert boxes(found[1]) == [("white", (3.0, 2.0, 17.0, 11.0))]


async def test_boxes_are_clipped_to_the_image_and_vanish_in_the_bars(hub, tmp_path):
    # 100 x 50 in 64 x 64: scaled by 0.64 to 64 x 32, with 16-pixel bars above and below.
    centres = [(32, 32, 32, 16), (32, 4, 10, 6), (60, 44, 20, 12)] + [(0, 0, 0, 0)] * 5
    scores = np.zeros((8, 1), np.float32)
    scores[:3, 0] = [0.9, 0.8, 0.7]
    model = constant_model(tmp_path / "v8.onnx", {"output0": yolov8_rows(centres, scores)})
    detector = build(hub, model=str(model), labels=["thing"])

    landscape, portrait = await detector.async_detect([picture(100, 50), picture(50, 100)])

    # Model pixels (16, 24, 48, 40) are ((16 - 0) * 100/64, (24 - 16) * 50/32, ...).
    assert boxes(landscape) == [
        ("thing", (25.0, 12.5, 75.0, 37.5)),
        ("thing", (78.125, 34.375, 100.0, 50.0)),  # x1 and y1 clipped; the one in the bar is gone
    ]
    # The same model boxes on a portrait image (bars left and right): the third one vanishes.
    assert boxes(portrait) == [
        ("thing", (0.0, 37.5, 50.0, 62.5)),
        ("thing", (17.1875, 1.5625, 32.8125, 10.9375)),
    ]


def test_letterbox_centres_the_image_between_grey_bars():
    box = Letterbox.fit(10, 20, 33, 32)
    assert box == Letterbox(10, 20, new_width=16, new_height=32, pad_x=8, pad_y=0)
    planes = np.zeros((3, 32, 33), np.float32)
    draw_letterboxed(np.full((20, 10, 3), 255, np.uint8), box, planes, 1 / 255)
    inside = np.zeros((32, 33), bool)
    inside[:, 8:24] = True
    assert np.all(planes[:, inside] == 1.0)
    assert np.all(planes[:, ~inside] == np.float32(PAD_VALUE / 255))


# ---------------------------------------------------------------- batching


BATCH = [
    ((128, 64), (20, 10, 60, 50)),
    ((64, 128), (10, 30, 40, 90)),
    ((32, 16), (3, 2, 17, 11)),
    ((16, 32), (4, 6, 10, 20)),
    ((64, 64), (8, 8, 16, 40)),
]


@pytest.mark.parametrize(
    ("batch", "max_batch", "runs"),
    [("batch", 4, 2), ("batch", 1, 5), (1, 4, 5), (2, 4, 3)],
    ids=["dynamic", "dynamic-max-1", "fixed-1", "fixed-2"],
)
async def test_images_run_in_batches_when_the_model_takes_them(
    hub, tmp_path, batch, max_batch, runs
):
    model = white_box_finder(tmp_path / "finder.onnx", batch=batch)
    detector = build(hub, model=str(model), labels=["white"], max_batch=max_batch)

    found = await detector.async_detect([picture(*size, rect) for size, rect in BATCH])

    assert [boxes(f) for f in found] == [[("white", tuple(map(float, r)))] for _, r in BATCH]
    assert (detector.runs, detector.images) == (runs, 5)


async def test_a_model_that_cannot_batch_runs_one_image_at_a_time(hub, tmp_path):
    # Takes any batch size on paper, but always answers for one image.
    rows = yolov8_rows([(32, 32, 8, 8)] * 8, np.full((8, 1), 0.9, np.float32))
    model = constant_model(
        tmp_path / "v8.onnx", {"output0": rows}, input_shape=("batch", 3, 64, 64), per_image=False
    )
    detector = build(hub, model=str(model), labels=["thing"], max_batch=4)
    assert detector.batch_size == 1

    found = await detector.async_detect([picture(64, 64)] * 3)

    assert [boxes(f) for f in found] == [[("thing", (28.0, 28.0, 36.0, 36.0))]] * 3
    assert detector.runs == 3


async def test_concurrent_callers_each_get_their_own_answers(hub, tmp_path):
    model = white_box_finder(tmp_path / "finder.onnx")
    detector = build(hub, model=str(model), labels=["white"], max_batch=2)
    calls = [[picture(*size, rect)] * 3 for size, rect in BATCH]

    answers = await asyncio.gather(*(detector.async_detect(images) for images in calls))

    for (_, rect), found in zip(BATCH, answers, strict=True):
        assert [boxes(f) for f in found] == [[("white", tuple(map(float, rect)))]] * 3


async def test_empty_images_get_no_detections_and_bad_arrays_an_error(hub, tmp_path):
    detector = build(hub, model=str(white_box_finder(tmp_path / "f.onnx")), labels=["white"])
    assert await detector.async_detect([]) == []
    found = await detector.async_detect([picture(0, 10), picture(64, 64, (0, 0, 8, 8))])
    assert found == [[], [Detection("white", pytest.approx(0.9), (0.0, 0.0, 8.0, 8.0))]]
    with pytest.raises(DetectorError, match=r"H x W x 3 uint8 RGB"):
        await detector.async_detect([np.zeros((8, 8), np.uint8)])


# ---------------------------------------------------------------- files and labels


async def test_relative_paths_look_in_the_models_folder_then_next_to_the_config(hub, tmp_path):
    models = hub.data_dir / "models"
    models.mkdir(parents=True)
    white_box_finder(models / "finder.onnx")
    (models / "names.txt").write_text("white\n\n", encoding="utf-8")
    # Next to the config file: found only when the models folder has no such file.
    (tmp_path / "names.txt").write_text("ignored\n", encoding="utf-8")
    (tmp_path / "other.txt").write_text("shiny\n", encoding="utf-8")

    detector = build(hub, model="finder.onnx", labels="names.txt")
    assert detector.path == models / "finder.onnx"
    assert detector.labels == ("white",)
    assert build(hub, model="finder.onnx", labels="other.txt").labels == ("shiny",)


async def test_labels_default_to_the_coco_names(hub, tmp_path):
    scores = np.zeros((100, 80), np.float32)
    scores[0, 15] = 0.8
    rows = yolov8_rows([(32, 32, 10, 10)] * 100, scores)
    model = constant_model(tmp_path / "coco.onnx", {"output0": rows})
    detector = build(hub, model=str(model))
    assert detector.labels == COCO_LABELS and len(COCO_LABELS) == 80
    [found] = await detector.async_detect([picture(64, 64)])
    assert boxes(found) == [("cat", (27.0, 27.0, 37.0, 37.0))]


def test_a_labels_file_with_a_gap_is_refused(hub, tmp_path):
    model = white_box_finder(tmp_path / "f.onnx")
    (tmp_path / "names.txt").write_text("a\n\nb\n", encoding="utf-8")
    with pytest.raises(DetectorError, match=r"names.txt: line 2 is empty"):
        build(hub, model=str(model), labels=str(tmp_path / "names.txt"))


# ---------------------------------------------------------------- bad models


def test_a_missing_model_names_where_it_was_looked_for(hub, tmp_path):
    with pytest.raises(DetectorError) as caught:
        build(hub, model="yolo11n.onnx")
    message = str(caught.value)
    assert "model file yolo11n.onnx not found" in message
    assert str(hub.data_dir / "models" / "yolo11n.onnx") in message
    assert str(tmp_path / "yolo11n.onnx") in message


def test_a_file_that_is_not_onnx_names_the_file_and_what_is_expected(hub, tmp_path):
    garbage = tmp_path / "model.onnx"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n this is not a model" * 10)
    with pytest.raises(DetectorError) as caught:
        build(hub, model=str(garbage))
    message = str(caught.value)
    assert f"cannot load model {garbage}: the file is not an ONNX model" in message
    assert "[batch, 3, height, width]" in message and "YOLOv8/YOLO11 [batch, 4+C, N]" in message


@pytest.mark.parametrize(
    ("input_shape", "shown"),
    [((1, 3, 64), "[1, 3, 64]"), ((1, 4, 64, 5), "[1, 4, 64, 5]")],
    ids=["rank-3", "no-colour-axis"],
)
def test_a_wrong_input_shape_names_the_file_and_the_shapes(hub, tmp_path, input_shape, shown):
    model = constant_model(
        tmp_path / "bad.onnx", {"output0": np.zeros((1, 84, 100), np.float32)}, input_shape
    )
    with pytest.raises(DetectorError) as caught:
        build(hub, model=str(model))
    message = str(caught.value)
    assert f"model {model}: input 'images' is tensor(float) {shown}" in message
    assert "expected one image input [batch, 3, height, width]" in message


def test_a_float16_input_is_refused(hub, tmp_path):
    model = constant_model(
        tmp_path / "half.onnx",
        {"output0": np.zeros((1, 84, 100), np.float32)},
        input_type=TensorProto.FLOAT16,
    )
    with pytest.raises(DetectorError, match=r"is tensor\(float16\) \[1, 3, 64, 64\]"):
        build(hub, model=str(model))


@pytest.mark.parametrize(
    ("outputs", "reason", "shown"),
    [
        ({"scores": np.zeros((1, 10), np.float32)}, "the first output is not", "scores [1, 10]"),
        ({"out": np.zeros((1, 7, 7), np.float32)}, "cannot tell YOLOv5 from", "out [1, 7, 7]"),
        (
            {"a": np.zeros((1, 84, 9), np.float32), "b": np.zeros((1, 9), np.float32)},
            "2 outputs match no layout",
            "a [1, 84, 9], b [1, 9]",
        ),
        (
            {f"o{i}": np.zeros((1, 5), np.float32) for i in range(3)},
            "outputs do not look like SSD",
            "o0 [1, 5], o1 [1, 5], o2 [1, 5]",
        ),
    ],
    ids=["rank-2", "square", "two-outputs", "not-ssd"],
)
def test_unknown_output_shapes_name_the_file_and_the_expected_layouts(
    hub, tmp_path, outputs, reason, shown
):
    model = constant_model(tmp_path / "odd.onnx", outputs)
    with pytest.raises(DetectorError) as caught:
        build(hub, model=str(model))
    message = str(caught.value)
    assert message.startswith(f"model {model}: {reason}")
    assert f"outputs are {shown}; expected YOLOv5 [batch, N, 5+C]" in message
    assert "SSD boxes [batch, N, 4]" in message


def test_a_layout_that_does_not_fit_the_outputs_is_refused(hub, tmp_path):
    model = white_box_finder(tmp_path / "finder.onnx")
    with pytest.raises(DetectorError, match=r"do not look like SSD.*output0 \[1, 5, 8\]"):
        build(hub, model=str(model), labels=["white"], layout="ssd")


def test_labels_must_match_the_classes_the_model_scores(hub, tmp_path):
    model = white_box_finder(tmp_path / "finder.onnx")
    with pytest.raises(DetectorError) as caught:
        build(hub, model=str(model))
    assert str(caught.value) == (
        f"model {model} scores 1 class (output [1, 5, 8], yolov8 layout) but 80 labels "
        "are the built-in COCO names: set `labels` to the model's class names"
    )


def test_input_size_must_agree_with_a_fixed_model_input(hub, tmp_path):
    model = white_box_finder(tmp_path / "finder.onnx", size=(64, 48))
    with pytest.raises(DetectorError, match=r"takes 64x48 images, not input_size 320x320"):
        build(hub, model=str(model), labels=["white"], input_size=320)


def test_input_size_sets_the_size_of_a_model_that_takes_any(hub, tmp_path):
    rows = yolov8_rows([(32, 32, 8, 8)] * 8, np.full((8, 1), 0.9, np.float32))
    model = constant_model(
        tmp_path / "any.onnx", {"output0": rows}, input_shape=("batch", 3, "height", "width")
    )
    assert build(hub, model=str(model), labels=["x"]).input.describe() == "640x640 float32 NCHW"
    sized = build(hub, model=str(model), labels=["x"], input_size=[320, 192])
    assert (sized.input.width, sized.input.height) == (320, 192)


def test_options_are_strict_and_described():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        OnnxDetectorOptions.model_validate({"model": "m.onnx", "treshold": 0.5})
    with pytest.raises(ValidationError):
        OnnxDetectorOptions.model_validate({"model": "m.onnx", "input_size": 8})
    with pytest.raises(ValidationError):
        OnnxDetectorOptions.model_validate({"model": "m.onnx", "labels": []})
    schema = OnnxDetectorOptions.model_json_schema()
    assert "required" not in schema  # without `model`, the bundled one runs
    assert all(field.get("description") for field in schema["properties"].values())


# ---------------------------------------------------------------- in a hub


async def test_a_configured_detector_answers_and_a_bad_one_is_a_problem(make_hub, tmp_path):
    models = tmp_path / "data" / "models"
    models.mkdir(parents=True)
    white_box_finder(models / "people.onnx")
    hub = make_hub(
        "detectors:\n"
        "  people:\n"
        "    type: onnx\n"
        "    model: people.onnx\n"
        "    labels: [person]\n"
        "  ghost:\n"
        "    type: onnx\n"
        "    model: ghost.onnx\n"
    )
    hub.plugins.register(onnx_detector, "onnx_detector")
    await hub.async_start()
    try:
        assert hub.running
        assert sorted(hub.detectors) == ["people"]
        found = await hub.detectors["people"].async_detect([picture(128, 64, (20, 10, 60, 50))])
        assert boxes(found[0]) == [("person", (20.0, 10.0, 60.0, 50.0))]
        problems = hub.health()["problems"]
        assert any(
            p.startswith("detectors.ghost: could not start: model file ghost.onnx not found")
            for p in problems
        ), problems
    finally:
        await hub.async_stop()
