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

from hub import RGB, Detection, DetectorError
from plugins.onnx_detector.decode import (
    Candidates,
    decode_ssd,
    decode_yolov5,
    decode_yolov8,
    non_max_suppression,
)
from plugins.onnx_detector.letterbox import PAD_VALUE, Letterbox, draw_letterboxed
from plugins.onnx_detector.model import (
    ModelInput,
    OutputLayout,
    find_layout,
    open_session,
    read_input,
    shape_text,
)
from plugins.onnx_detector.options import OnnxDetectorOptions

_LOGGER = logging.getLogger(__name__)


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
    ):
        self.path = path
        self.labels = tuple(labels)
        self.options = options
        self.session = open_session(path, options.threads)
        self.input: ModelInput = read_input(self.session, path, options.input_size)
        self._output_names = [output.name for output in self.session.get_outputs()]
        self._scale = 1 / 255 if self.input.dtype == np.float32 else 1.0
        capacity = self.input.batch or options.max_batch
        shape = (
            (capacity, self.input.height, self.input.width, 3)
            if self.input.channels_last
            else (capacity, 3, self.input.height, self.input.width)
        )
        self._buffer: npt.NDArray[Any] = np.full(shape, PAD_VALUE * self._scale, self.input.dtype)
        # Each slot seen as colour planes, whatever the model's axis order.
        self._slots = [
            slot.transpose(2, 0, 1) if self.input.channels_last else slot for slot in self._buffer
        ]
        self.batch_size, outputs = self._probe(capacity)
        self.layout: OutputLayout = find_layout(path, options.layout, self._output_names, outputs)
        self._check_labels(outputs, default_labels)
        # Work done, for metrics: inferences (a batch counts once), images, seconds inferring.
        self.runs = 0
        self.images = 0
        self.busy_seconds = 0.0
        self._lock = threading.Lock()
        self._queue = asyncio.Lock()
        _LOGGER.info(
            "ONNX model %s: %s layout, input %s, up to %d image(s) per run",
            path,
            self.layout.kind,
            self.input.describe(),
            self.batch_size,
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
            draw_letterboxed(image, box, slot, self._scale)
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
        outputs = self.session.run(None, {self.input.name: self._buffer[:batch]})
        if any(np.ndim(output) == 0 or len(output) != batch for output in outputs):
            shapes = ", ".join(shape_text(np.shape(output)) for output in outputs)
            raise DetectorError(f"outputs {shapes} do not have the input's batch size {batch}")
        return [np.asarray(output) for output in outputs]

    def _probe(self, capacity: int) -> tuple[int, list[npt.NDArray[Any]]]:
        """Run the model once on grey images: checks it runs, warms it up, shows the outputs."""
        if self.input.batch is None and capacity > 1:
            try:
                return capacity, self._run(2)
            except Exception as exc:
                _LOGGER.warning(
                    "Model %s does not run batches (%s); one image at a time", self.path, exc
                )
        batch = self.input.batch or 1
        try:
            return batch, self._run(batch)
        except Exception as exc:
            raise DetectorError(
                f"model {self.path}: a test inference on {shape_text(self._buffer[:batch].shape)} "
                f"failed: {exc}"
            ) from exc

    def _check_labels(self, outputs: list[npt.NDArray[Any]], default_labels: bool) -> None:
        classes = self.layout.num_classes
        if classes is None or classes == len(self.labels):
            return
        given = "the built-in COCO names" if default_labels else "given"
        raise DetectorError(
            f"model {self.path} scores {classes} class{'' if classes == 1 else 'es'} (output "
            f"{shape_text(outputs[self.layout.main].shape)}, {self.layout.kind} layout) but "
            f"{len(self.labels)} labels are {given}: set `labels` to the model's class names"
        )

    def _decode(
        self, outputs: list[npt.NDArray[Any]], slot: int, box: Letterbox
    ) -> list[Detection]:
        layout, options = self.layout, self.options
        threshold = options.score_threshold
        candidates: Candidates
        if layout.kind == "yolov5":
            candidates = decode_yolov5(outputs[layout.main][slot], threshold)
        elif layout.kind == "yolov8":
            candidates = decode_yolov8(outputs[layout.main][slot], threshold)
        else:
            count = None
            if layout.count is not None:
                count = int(outputs[layout.count].reshape(len(outputs[layout.count]), -1)[slot, 0])
            candidates = decode_ssd(
                outputs[layout.main][slot],
                outputs[layout.scores][slot],
                outputs[layout.classes][slot],
                count,
                threshold,
                options.ssd_box_order,
                options.ssd_box_units,
                (self.input.width, self.input.height),
            )
        candidates = non_max_suppression(candidates, options.nms_iou)
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
