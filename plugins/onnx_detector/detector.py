"""The `onnx` detector: letterbox, one ONNX Runtime session, decode, NMS, boxes in image pixels."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hub import (
    PAD_VALUE,
    RGB,
    UNUSED_LABEL,
    DecodeOptions,
    Detection,
    DetectorError,
    Letterbox,
    OutputLayout,
    decode_outputs,
    draw_letterboxed,
    find_layout,
    non_max_suppression,
    shape_text,
)
from plugins.onnx_detector.model import ModelInput, open_session, read_input
from plugins.onnx_detector.options import (
    BUNDLED_NMS_IOU,
    OTHER_NMS_IOU,
    InputRange,
    OnnxDetectorOptions,
)

_LOGGER = logging.getLogger(__name__)
# pixel * scale + offset for each input range.
_RANGES: dict[str, tuple[float, float]] = {
    "0..1": (1 / 255, 0.0),
    "-1..1": (1 / 127.5, -1.0),
    "0..255": (1.0, 0.0),
}


class OnnxDetector:
    """An ObjectDetector running one ONNX model on the CPU, in worker threads.

    The session and the input buffer are made once; images are letterboxed into
    the buffer, run in batches of up to `batch_size`, and the decoded boxes are
    mapped back to each image's pixels.
    """

    def __init__(
        self,
        path: Path,
        labels: Sequence[str],
        options: OnnxDetectorOptions,
        *,
        default_labels: bool,
        input_range: InputRange = "auto",
        description: str | None = None,
    ):
        self.path = path
        self.labels = tuple(labels)
        self.options = options
        self.description = description or f"model {path.name}"
        self.session = open_session(path, options.threads)
        self.input: ModelInput = read_input(self.session, path, options.input_size)
        self._output_names = [output.name for output in self.session.get_outputs()]
        if input_range == "auto":
            input_range = "0..1" if self.input.dtype == np.float32 else "0..255"
        self.input_range = input_range
        self._scale, self._offset = _RANGES[input_range]
        capacity = self.input.batch or options.max_batch
        shape = (
            (capacity, self.input.height, self.input.width, 3)
            if self.input.channels_last
            else (capacity, 3, self.input.height, self.input.width)
        )
        pad = PAD_VALUE * self._scale + self._offset
        self._buffer: npt.NDArray[Any] = np.full(shape, pad, self.input.dtype)
        # Each slot seen as colour planes, whatever the model's axis order.
        self._slots = [
            slot.transpose(2, 0, 1) if self.input.channels_last else slot for slot in self._buffer
        ]
        outputs = self._probe()
        self.layout: OutputLayout = find_layout(
            f"model {path}", options.layout, self._output_names, outputs
        )
        # Only what the layout reads is fetched (and must follow the input's batch size).
        self._fetch = [self._output_names[index] for index in self.layout.used]
        self._decode_options = self._decoding(outputs, default_labels)
        self.batch_size = self._batch_size(capacity)
        self.nms_iou = options.nms_iou or (BUNDLED_NMS_IOU if options.bundled else OTHER_NMS_IOU)
        # Work done, for metrics: inferences (a batch counts once), images, seconds inferring.
        self.runs = 0
        self.images = 0
        self.busy_seconds = 0.0
        self._lock = threading.Lock()
        self._queue = asyncio.Lock()
        _LOGGER.info(
            "ONNX model %s: %s layout, input %s (%s), up to %d image(s) per run, %d thread(s)",
            path,
            self.layout.kind,
            self.input.describe(),
            self.input_range,
            self.batch_size,
            options.threads,
        )

    async def async_detect(self, images: list[RGB]) -> list[list[Detection]]:
        """Detections for each image, in order; inference runs in a worker thread."""
        if not images:
            return []
        # Callers queue here, on the loop, rather than each holding a worker thread.
        async with self._queue:
            return await asyncio.to_thread(self.detect, images)

    def detect(self, images: Sequence[RGB]) -> list[list[Detection]]:
        """Blocking form of `async_detect` (for worker threads and benchmarks)."""
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise DetectorError(
                    f"expected H x W x 3 uint8 RGB images, got {image.dtype} {list(image.shape)}"
                )
        results: list[list[Detection]] = [[] for _ in images]
        todo = [index for index, image in enumerate(images) if image.size]
        with self._lock:
            for start in range(0, len(todo), self.batch_size):
                chunk = todo[start : start + self.batch_size]
                found = self._detect_batch([images[index] for index in chunk])
                for index, detections in zip(chunk, found, strict=True):
                    results[index] = detections
        return results

    # ---------------------------------------------------------- internals

    def _detect_batch(self, images: list[RGB]) -> list[list[Detection]]:
        boxes = []
        for slot, image in zip(self._slots, images, strict=False):
            box = Letterbox.fit(image.shape[1], image.shape[0], self.input.width, self.input.height)
            draw_letterboxed(image, box, slot, self._scale, self._offset)
            boxes.append(box)
        started = time.perf_counter()
        try:
            outputs = self._run(self.input.batch or len(images))
        except Exception as exc:
            raise DetectorError(f"model {self.path.name}: inference failed: {exc}") from exc
        self.busy_seconds += time.perf_counter() - started
        self.runs += 1
        self.images += len(images)
        return [self._decode(outputs, slot, box) for slot, box in enumerate(boxes)]

    def _run(self, batch: int) -> list[npt.NDArray[Any]]:
        """The outputs the layout reads (in the model's order, others as empty arrays)."""
        fetched = self.session.run(self._fetch, {self.input.name: self._buffer[:batch]})
        if any(np.ndim(output) == 0 or len(output) != batch for output in fetched):
            shapes = ", ".join(shape_text(np.shape(output)) for output in fetched)
            raise DetectorError(f"outputs {shapes} do not have the input's batch size {batch}")
        by_name = dict(zip(self._fetch, fetched, strict=True))
        empty = np.empty(0, np.float32)
        return [np.asarray(by_name.get(name, empty)) for name in self._output_names]

    def _probe(self) -> list[npt.NDArray[Any]]:
        """Run the model once on grey images: checks it runs, warms it up, shows the outputs."""
        batch = self.input.batch or 1
        try:
            outputs = self.session.run(None, {self.input.name: self._buffer[:batch]})
        except Exception as exc:
            raise DetectorError(
                f"model {self.path}: a test inference on {shape_text(self._buffer[:batch].shape)} "
                f"failed: {exc}"
            ) from exc
        return [np.asarray(output) for output in outputs]

    def _batch_size(self, capacity: int) -> int:
        """How many images one run takes: the fixed batch, or up to `max_batch` if it works."""
        if self.input.batch is not None or capacity == 1:
            return capacity
        try:
            self._run(2)
            return capacity
        except Exception as exc:
            _LOGGER.warning(
                "Model %s does not run batches (%s); one image at a time", self.path, exc
            )
            return 1

    def _decoding(self, outputs: list[npt.NDArray[Any]], default_labels: bool) -> DecodeOptions:
        """How outputs map to `labels`; raises when the model scores another number of classes."""
        classes = self.layout.num_classes
        first_column = 0
        if classes is not None and classes != len(self.labels):
            # A TensorFlow SSD head has a background slot before the first class.
            if self.layout.kind == "ssd_scores" and classes == len(self.labels) + 1:
                first_column = 1
            else:
                given = "the built-in COCO names" if default_labels else "given"
                scored = self.layout.scores if self.layout.kind == "ssd_scores" else 0
                shown = shape_text(outputs[scored].shape)
                raise DetectorError(
                    f"model {self.path} scores {classes} class{'' if classes == 1 else 'es'} "
                    f"(output {shown}, {self.layout.kind} layout) but "
                    f"{len(self.labels)} labels are {given}: set `labels` to the model's "
                    "class names"
                )
        return DecodeOptions(
            threshold=self.options.score_threshold,
            input_size=(self.input.width, self.input.height),
            box_order=self.options.ssd_box_order,
            box_units=self.options.ssd_box_units,
            first_class_column=first_column,
            ignored_classes=frozenset(
                index for index, name in enumerate(self.labels) if name == UNUSED_LABEL
            ),
        )

    def _decode(
        self, outputs: list[npt.NDArray[Any]], slot: int, box: Letterbox
    ) -> list[Detection]:
        candidates = decode_outputs(self.layout, outputs, slot, self._decode_options)
        candidates = non_max_suppression(candidates, self.nms_iou)
        detections = []
        mapped = box.to_image(candidates.boxes).tolist()
        for (x0, y0, x1, y1), score, label in zip(
            mapped, candidates.scores.tolist(), candidates.classes.tolist(), strict=True
        ):
            if x1 > x0 and y1 > y0:  # boxes wholly in the grey bars vanish when clipped
                detections.append(Detection(self._label(label), score, (x0, y0, x1, y1)))
        return detections

    def _label(self, index: int) -> str:
        return self.labels[index] if 0 <= index < len(self.labels) else f"class_{index}"
