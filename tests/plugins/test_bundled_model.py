"""The COCO model shipped with camhub, on real photographs (scikit-image's samples)."""

from __future__ import annotations

import hashlib

import numpy as np
import onnxruntime as ort
import pytest
from skimage import data

import plugins.onnx_detector as onnx_detector
from hub import (
    PAD_VALUE,
    Detection,
    DetectorError,
    Letterbox,
    coco_id_labels,
    decode_anchor_boxes,
    draw_letterboxed,
)
from hub.detection.tracker import iou
from plugins.onnx_detector import OnnxDetector, OnnxDetectorOptions, bundled
from tests.plugins.person_clips import ASTRONAUT_PERSON, background

# Checked by eye on the photos (x0, y0, x1, y1): the astronaut from her hair to the bottom
# edge and from the left edge to her left shoulder (not the helmet in front, not the model
# shuttle); the cat from the left edge to past its right ear, top to bottom.
CHELSEA_CAT = (0.0, 0.0, 380.0, 300.0)


@pytest.fixture
def detector(bundled_detector: OnnxDetector) -> OnnxDetector:
    return bundled_detector


def test_the_shipped_files_are_the_pinned_ones():
    for path, pinned in (
        (bundled.MODEL_PATH, "7daee591f4419e72ada575d097a2571cac9a16430833881d65df7980522f814c"),
        (bundled.LABELS_PATH, "f8803ef7900160c629d570848dfda4175e21667bf7b71f73f8ece4938c9f2bf2"),
    ):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == pinned
    assert (
        hashlib.sha256(bundled.MODEL_PATH.read_bytes()).hexdigest(),
        hashlib.sha256(bundled.LABELS_PATH.read_bytes()).hexdigest(),
    ) == (bundled.MODEL_SHA256, bundled.LABELS_SHA256)
    notice = (bundled.MODELS_DIR / "NOTICE.md").read_text(encoding="utf-8")
    assert "Apache License, Version 2.0" in notice and bundled.MODEL_SHA256 not in notice
    assert (bundled.MODELS_DIR / "LICENSE-Apache-2.0.txt").is_file()


def test_the_labels_are_the_90_coco_ids():
    labels = bundled.labels()
    assert len(labels) == 90 and labels.count("???") == 10
    assert labels == coco_id_labels()  # what a remote detector assumes for this model
    assert (labels[0], labels[2], labels[16], labels[17]) == ("person", "car", "cat", "dog")


def test_the_bundled_model_reads_as_a_dense_ssd_head(detector):
    assert detector.layout.kind == "ssd_scores" and detector.layout.num_classes == 91
    assert detector.input.describe() == "320x320 float32 NHWC"
    assert detector.input_range == "-1..1" and detector.nms_iou == 0.6
    assert detector.options.threads == 1 and detector.batch_size == 1


def best(found, label):
    matches = [d for d in found if d.label == label]
    assert matches, f"no {label} in {found}"
    return max(matches, key=lambda d: d.score)


def test_the_astronaut_is_a_person_where_she_is(detector):
    [found] = detector.detect([data.astronaut()])
    person = best(found, "person")
    assert person.score >= 0.5
    assert iou(person.box, ASTRONAUT_PERSON) >= 0.5, person


def test_chelsea_is_a_cat_and_no_person(detector):
    [found] = detector.detect([data.chelsea()])
    cat = best(found, "cat")
    assert cat.score >= 0.5
    assert iou(cat.box, CHELSEA_CAT) >= 0.5, cat
    assert not [d for d in found if d.label == "person"]


def test_no_person_on_an_empty_outdoor_picture(detector):
    # A launch pad by day: sky, gantry, ground; nobody there.
    for picture in (data.rocket(), background(640, 360)):
        [found] = detector.detect([picture])
        assert not [d for d in found if d.label == "person" and d.score >= 0.4], found


def same_detections(a: list[Detection], b: list[Detection]) -> None:
    assert [d.label for d in a] == [d.label for d in b]
    assert [d.box for d in a] == [pytest.approx(d.box, abs=1e-3) for d in b]
    assert [d.score for d in a] == pytest.approx([d.score for d in b], abs=1e-5)


def test_regions_run_one_at_a_time_by_default(detector):
    # A batch is no faster on a CPU and its buffers cost memory (docs/performance.md).
    pictures = [data.astronaut(), data.chelsea(), data.coffee()]
    runs = detector.runs
    together = detector.detect(pictures)
    assert detector.runs == runs + 3
    for picture, found in zip(pictures, together, strict=True):
        same_detections(found, detector.detect([picture])[0])


def test_regions_run_in_one_batch_give_what_they_give_one_by_one(detector):
    batching = OnnxDetector(
        bundled.MODEL_PATH,
        bundled.labels(),
        OnnxDetectorOptions(max_batch=4),
        default_labels=True,
        input_range=bundled.INPUT_RANGE,
    )
    assert batching.batch_size == 4
    pictures = [data.astronaut(), data.chelsea(), data.coffee()]
    together = batching.detect(pictures)
    assert batching.runs == 1
    for picture, batched in zip(pictures, together, strict=True):
        same_detections(detector.detect([picture])[0], batched)


def test_the_memory_saving_session_answers_like_onnx_runtime_defaults(detector):
    # The session the detector opens (no memory pattern, heap trimmed) against one with
    # every ONNX Runtime default, on the same letterboxed photographs.
    plain = ort.InferenceSession(str(bundled.MODEL_PATH), providers=["CPUExecutionProvider"])
    for picture in (data.astronaut(), data.chelsea(), data.coffee(), data.rocket()):
        box = Letterbox.fit(picture.shape[1], picture.shape[0], 320, 320)
        image = np.full((1, 320, 320, 3), PAD_VALUE / 127.5 - 1, np.float32)
        draw_letterboxed(picture, box, image[0].transpose(2, 0, 1), 1 / 127.5, -1.0)
        ours = detector.session.run(["boxes", "class_scores"], {"image": image})
        theirs = plain.run(["boxes", "class_scores"], {"image": image})
        for mine, reference in zip(ours, theirs, strict=True):
            assert np.abs(mine - reference).max() < 1e-4


def test_the_in_graph_boxes_are_the_anchor_decoding(detector):
    picture = np.zeros((1, 320, 320, 3), np.float32)
    picture[0, 60:260, 100:220] = 0.8
    boxes, encodings, anchors = detector.session.run(
        ["boxes", "box_encodings", "anchors"], {"image": picture}
    )
    assert np.abs(decode_anchor_boxes(encodings, anchors) - boxes).max() < 1e-5


def test_a_damaged_bundled_model_is_named(tmp_path, monkeypatch):
    damaged = tmp_path / bundled.MODEL_PATH.name
    content = bytearray(bundled.MODEL_PATH.read_bytes())
    content[len(content) // 2] ^= 0xFF  # one weight changes: ONNX Runtime would not notice
    damaged.write_bytes(bytes(content))
    monkeypatch.setattr(bundled, "MODEL_PATH", damaged)
    (spec,) = onnx_detector.detector_types()
    with pytest.raises(DetectorError) as caught:
        spec.create(None, "coco", OnnxDetectorOptions())
    assert str(caught.value).startswith(f"the bundled model {damaged} is damaged (sha256 ")
    assert str(caught.value).endswith("reinstall camhub")
    damaged.unlink()
    with pytest.raises(DetectorError, match=f"the bundled model {damaged} cannot be read"):
        spec.create(None, "coco", OnnxDetectorOptions())
