"""The shared decoders: a dense SSD head (boxes and a score per class), anchors, layouts."""

from __future__ import annotations

import numpy as np
import pytest

from hub import (
    DecodeOptions,
    DetectorError,
    OutputLayout,
    decode_anchor_boxes,
    decode_outputs,
    decode_ssd_scores,
    find_layout,
    non_max_suppression,
)

BOXES = np.array(  # y0, x0, y1, x1, normalised
    [[0.1, 0.2, 0.5, 0.4], [0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.75, 1.0]], np.float32
)
# Column 0 is a background slot; then person, ???, cat.
SCORES = np.array(
    [[0.90, 0.80, 0.10, 0.60], [0.70, 0.20, 0.95, 0.30], [0.05, 0.55, 0.00, 0.49]], np.float32
)


def test_every_class_over_the_threshold_is_a_candidate_and_the_background_slot_never():
    found = decode_ssd_scores(BOXES, SCORES, 0.5, "yxyx", "normalized", (100, 200), first_column=1)
    pairs = sorted(zip(found.classes.tolist(), found.scores.tolist(), strict=True))
    # Box 0 is a person and a cat; box 1 scores high only as background and as class 1.
    assert pairs == [
        (0, pytest.approx(0.55)),
        (0, pytest.approx(0.8)),
        (1, pytest.approx(0.95)),
        (2, pytest.approx(0.6)),
    ]
    by_score = {
        round(s, 2): b for s, b in zip(found.scores.tolist(), found.boxes.tolist(), strict=True)
    }
    # Pixels of a 100 x 200 input, x0 y0 x1 y1.
    assert by_score[0.8] == pytest.approx([20.0, 20.0, 40.0, 100.0])
    assert by_score[0.55] == pytest.approx([50.0, 100.0, 100.0, 150.0])


def test_ignored_classes_and_pixel_boxes():
    pixels = BOXES * np.array([200, 100, 200, 100], np.float32)
    found = decode_ssd_scores(
        pixels, SCORES, 0.5, "yxyx", "pixels", (100, 200), first_column=1, ignored={1}
    )
    assert sorted(found.classes.tolist()) == [0, 0, 2]
    xyxy = decode_ssd_scores(BOXES[:, [1, 0, 3, 2]], SCORES, 0.85, "xyxy", "normalized", (10, 10))
    assert xyxy.classes.tolist() == [0, 2] and xyxy.boxes.tolist()[0] == pytest.approx(
        [2.0, 1.0, 4.0, 5.0]
    )


def test_anchor_encodings_decode_like_tensorflows_box_coder():
    anchors = np.array([[0.5, 0.5, 0.2, 0.4], [0.25, 0.75, 0.1, 0.1]], np.float32)
    encodings = np.array([[[0.0, 0.0, 0.0, 0.0], [1.0, -2.0, 5.0 * np.log(2), 0.0]]], np.float32)
    corners = decode_anchor_boxes(encodings, anchors)
    assert corners.shape == (1, 2, 4)
    # No offset: the anchor itself. Then yc += 1/10 * h, xc -= 2/10 * w, h doubled.
    assert corners[0, 0] == pytest.approx([0.4, 0.3, 0.6, 0.7])
    assert corners[0, 1] == pytest.approx([0.26 - 0.1, 0.73 - 0.05, 0.26 + 0.1, 0.73 + 0.05])


def test_a_dense_head_is_found_by_name_and_shape_next_to_an_anchor_table():
    outputs = [
        np.zeros((2, 3, 4), np.float32),
        np.zeros((2, 3, 91), np.float32),
        np.zeros((2, 3, 4), np.float32),
        np.zeros((3, 4), np.float32),  # anchors: no batch axis
    ]
    names = ["boxes", "class_scores", "box_encodings", "anchors"]
    layout = find_layout("model m.onnx", "auto", names, outputs)
    assert layout == OutputLayout("ssd_scores", 0, 1, num_classes=91)
    assert layout.used == [0, 1]
    # Raw encodings listed first do not pass for the decoded boxes.
    reordered = find_layout("m", "auto", names[2:3] + names[:2], outputs[2:3] + outputs[:2])
    assert (reordered.main, reordered.scores) == (1, 2)


def test_a_requested_dense_layout_that_is_not_there_is_named():
    outputs = [np.zeros((1, 84, 100), np.float32)]
    with pytest.raises(DetectorError) as caught:
        find_layout("model y.onnx", "ssd_scores", ["output0"], outputs)
    assert str(caught.value).startswith(
        "model y.onnx: outputs do not look like SSD boxes and class scores: outputs are "
        "output0 [1, 84, 100]; expected YOLOv5"
    )


def test_decode_outputs_picks_one_image_of_the_batch_then_nms_keeps_the_best():
    boxes = np.stack([BOXES, BOXES])
    boxes[1, 1] = [0.12, 0.2, 0.5, 0.4]  # nearly box 0: suppressed under its class
    scores = np.stack([SCORES, SCORES])
    scores[1, 1] = [0.0, 0.7, 0.0, 0.0]
    layout = OutputLayout("ssd_scores", 0, 1, num_classes=4)
    options = DecodeOptions(0.5, (100, 100), first_class_column=1, ignored_classes={1})
    second = non_max_suppression(decode_outputs(layout, [boxes, scores], 1, options), 0.6)
    assert second.classes.tolist() == [0, 2, 0]
    assert second.scores.tolist() == pytest.approx([0.8, 0.6, 0.55])
