"""The `kserve` detector: regions sent to a model on an Open Inference Protocol (V2) server.

The first call reads the server (`/v2/health/ready`, `/v2` for its extensions)
and the model (`/v2/models/{name}`: input name, datatype, shape), runs one grey
test image to see the outputs, and picks the layout with the same decoders the
local `onnx` detector uses; so the same model file gives the same boxes here
and there. Then each call letterboxes the regions into one batch (as many as
the model's batch dimension and `max_batch` allow), sends it in one request,
and decodes the outputs. Failures are retried, counted by a circuit breaker
and raised as DetectorError: the camera goes on with motion meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from hub import (
    COCO_LABELS,
    PAD_VALUE,
    RGB,
    UNUSED_LABEL,
    DecodeOptions,
    Detection,
    DetectorError,
    Letterbox,
    OutputLayout,
    coco_id_labels,
    decode_outputs,
    draw_letterboxed,
    find_layout,
    non_max_suppression,
    shape_text,
)
from plugins.remote_detector.client import Failure, RemoteClient
from plugins.remote_detector.kserve_options import OTHER_NMS_IOU, SSD_NMS_IOU, KServeOptions
from plugins.remote_detector.v2 import (
    BINARY_EXTENSION,
    ModelMetadata,
    ProtocolError,
    TensorSpec,
    decode_response,
    encode_request,
    error_text,
    parse_metadata,
)

_LOGGER = logging.getLogger(__name__)

MAX_METADATA_BYTES = 1 << 20
MAX_ANSWER_BYTES = 256 << 20
"""Dense SSD heads answer ~2 MB of JSON per image; a batch of 64 stays under this."""
DEFAULT_SIDE = 640
_RANGES: dict[str, tuple[float, float]] = {
    "0..1": (1 / 255, 0.0),
    "-1..1": (1 / 127.5, -1.0),
    "0..255": (1.0, 0.0),
}


@dataclass
class RemoteModel:
    """What the detector learnt about the served model on its first call."""

    spec: TensorSpec
    channels_last: bool
    width: int
    height: int
    batch_size: int
    fixed_batch: bool
    scale: float
    offset: float
    layout: OutputLayout
    output_names: list[str]
    fetch: list[str]
    decoding: DecodeOptions
    labels: tuple[str, ...]
    nms_iou: float
    binary: bool
    platform: str = ""
    notes: list[str] = field(default_factory=list)

    def pack(self, images: Sequence[RGB]) -> tuple[npt.NDArray[Any], list[Letterbox]]:
        """The input tensor for `images` (letterboxed), and where each image sits in it."""
        count = self.batch_size if self.fixed_batch else len(images)
        return pack(
            self.spec,
            self.channels_last,
            self.width,
            self.height,
            self.scale,
            self.offset,
            images,
            count,
        )

    def decode(
        self, outputs: dict[str, npt.NDArray[Any]], boxes: list[Letterbox]
    ) -> list[list[Detection]]:
        """Detections of each image, in its own pixels."""
        empty = np.empty(0, np.float32)
        ordered = [outputs.get(name, empty) for name in self.output_names]
        found = []
        for slot, box in enumerate(boxes):
            candidates = decode_outputs(self.layout, ordered, slot, self.decoding)
            candidates = non_max_suppression(candidates, self.nms_iou)
            mapped = box.to_image(candidates.boxes).tolist()
            detections = []
            for (x0, y0, x1, y1), score, label in zip(
                mapped, candidates.scores.tolist(), candidates.classes.tolist(), strict=True
            ):
                if x1 > x0 and y1 > y0:  # boxes wholly in the grey bars vanish when clipped
                    detections.append(Detection(self.label(label), score, (x0, y0, x1, y1)))
            found.append(detections)
        return found

    def label(self, index: int) -> str:
        """The name of class `index`."""
        return self.labels[index] if 0 <= index < len(self.labels) else f"class_{index}"


def pack(
    spec: TensorSpec,
    channels_last: bool,
    width: int,
    height: int,
    scale: float,
    offset: float,
    images: Sequence[RGB],
    count: int,
) -> tuple[npt.NDArray[Any], list[Letterbox]]:
    """A fresh input tensor of `count` slots (grey beyond the images); each call its own, so
    several cameras may share the detector."""
    shape = (count, height, width, 3) if channels_last else (count, 3, height, width)
    tensor: npt.NDArray[Any] = np.full(shape, PAD_VALUE * scale + offset, spec.dtype)
    boxes = []
    for slot, image in zip(tensor, images, strict=False):
        planes = slot.transpose(2, 0, 1) if channels_last else slot
        box = Letterbox.fit(image.shape[1], image.shape[0], width, height)
        draw_letterboxed(image, box, planes, scale, offset)
        boxes.append(box)
    return tensor, boxes


class KServeDetector(RemoteClient):
    """An ObjectDetector backed by a model on a V2 inference server."""

    def __init__(
        self,
        detector_id: str,
        options: KServeOptions,
        labels: tuple[str, ...] | None = None,
        hub: Any | None = None,
    ):
        super().__init__(detector_id, options, options.model_url(), options.token or "", hub)
        self.options = options
        self.description = options.summary()
        self.model: RemoteModel | None = None
        self._labels = labels
        self._preparing = asyncio.Lock()
        self._headers = {"Authorization": f"Bearer {options.token}"} if options.token else {}

    def __repr__(self) -> str:
        return f"KServeDetector({self.detector_id!r}, {self._prefix()!r})"

    async def async_detect(self, images: list[RGB]) -> list[list[Detection]]:
        """Detections for each image, in order; DetectorError when the server gave none."""
        self._counts["calls"] += 1
        self._check_images(images, allow_empty=True)
        results: list[list[Detection]] = [[] for _ in images]
        todo = [index for index, image in enumerate(images) if image.size]
        if not todo:
            return results
        model = await self._prepared()
        for start in range(0, len(todo), model.batch_size):
            chunk = todo[start : start + model.batch_size]
            batch = [images[index] for index in chunk]
            self._counts["images"] += len(batch)
            attempt = partial(self._infer, model, batch)
            found = await self._guarded(partial(self._with_retries, attempt))
            for index, detections in zip(chunk, found, strict=True):
                results[index] = detections
        return results

    # ---------------------------------------------------------- first call

    async def _prepared(self) -> RemoteModel:
        if self.model is not None:
            return self.model
        async with self._preparing:
            if self.model is None:
                self.model = await self._guarded(lambda: self._with_retries(self._prepare))
                _LOGGER.info(
                    "Detector %s: %s (%s) input %s, %s layout, up to %d image(s) a request, %s",
                    self.detector_id,
                    self.options.summary(),
                    self.model.platform or "V2 server",
                    self.model.spec.describe(),
                    self.model.layout.kind,
                    self.model.batch_size,
                    "binary tensors" if self.model.binary else "JSON tensors",
                )
            return self.model

    async def _prepare(self) -> RemoteModel:
        status, body, _ = await self._get(self.options.server_url("/health/ready"))
        if status in (401, 403):
            raise self._status_failure(status, body)
        if status != 200:
            raise Failure(f"the server is not ready (HTTP {status})", retry=True)
        binary = await self._binary_offered()
        status, body, _ = await self._get(self.options.model_url())
        if status != 200:
            raise self._status_failure(status, body)
        try:
            metadata = parse_metadata(_json(body))
            return await self._probe(metadata, binary)
        except (ProtocolError, DetectorError) as exc:
            raise Failure(str(exc), retry=False) from None

    async def _binary_offered(self) -> bool:
        if self.options.binary != "auto":
            return self.options.binary == "on"
        status, body, _ = await self._get(self.options.server_url(""))
        if status != 200:
            return False  # an old server without server metadata: JSON always works
        try:
            extensions = _json(body).get("extensions") or []
        except (ProtocolError, AttributeError):
            return False
        return BINARY_EXTENSION in extensions

    async def _get(self, url: Any) -> tuple[int, bytes, dict[str, str]]:
        return await self._request("GET", url, limit=MAX_METADATA_BYTES, headers=self._headers)

    async def _probe(self, metadata: ModelMetadata, binary: bool) -> RemoteModel:
        """Run one grey image to see the outputs; a RemoteModel ready for real images."""
        where = f"model {self.options.model}"
        if len(metadata.inputs) != 1:
            listed = ", ".join(spec.describe() for spec in metadata.inputs)
            raise DetectorError(f"{where} takes {len(metadata.inputs)} inputs ({listed}), not one")
        spec = metadata.inputs[0]
        channels_last, width, height, fixed = self._input_geometry(spec)
        options = self.options
        names = [output.name for output in metadata.outputs]
        scale, offset = _RANGES["0..1" if spec.dtype.kind == "f" else "0..255"]
        grey = np.full((height, width, 3), PAD_VALUE, np.uint8)
        count = fixed or 1
        tensor, _ = pack(spec, channels_last, width, height, scale, offset, [grey], count)
        outputs = await self._send(spec, tensor, names, binary)
        arrays = [outputs[name] for name in names]
        layout = find_layout(where, options.layout, names, arrays)
        labels, first_column = self._label_columns(layout, arrays)
        kind = options.input_range
        if kind == "auto":
            kind = (
                "-1..1"
                if layout.kind == "ssd_scores"
                else ("0..1" if spec.dtype.kind == "f" else "0..255")
            )
        scale, offset = _RANGES[kind]
        fetch = [names[index] for index in layout.used]
        return RemoteModel(
            spec=spec,
            channels_last=channels_last,
            width=width,
            height=height,
            batch_size=fixed or self._batch_size(metadata, fetch),
            fixed_batch=fixed is not None,
            scale=scale,
            offset=offset,
            layout=layout,
            output_names=names,
            fetch=fetch,
            decoding=DecodeOptions(
                threshold=options.score_threshold,
                input_size=(width, height),
                box_order=options.ssd_box_order,
                box_units=options.ssd_box_units,
                first_class_column=first_column,
                ignored_classes=frozenset(
                    index for index, name in enumerate(labels) if name == UNUSED_LABEL
                ),
            ),
            labels=labels,
            nms_iou=options.nms_iou
            or (SSD_NMS_IOU if layout.kind == "ssd_scores" else OTHER_NMS_IOU),
            binary=binary,
            platform=metadata.platform,
        )

    def _input_geometry(self, spec: TensorSpec) -> tuple[bool, int, int, int | None]:
        """Axis order, width, height and fixed batch (None: any) of an image input."""
        shape = spec.shape
        if len(shape) != 4 or 3 not in (shape[1], shape[3]):
            raise DetectorError(
                f"model {self.options.model}: input {spec.describe()} is not an image batch "
                "[batch, 3, height, width] or [batch, height, width, 3]"
            )
        spec.dtype  # noqa: B018 - raises for a datatype no image can be
        channels_last = shape[3] == 3 and shape[1] != 3
        height, width = (shape[1], shape[2]) if channels_last else (shape[2], shape[3])
        wanted = self.options.input_size
        if isinstance(wanted, int):
            wanted = (wanted, wanted)
        if width > 0 and height > 0:
            if wanted and tuple(wanted) != (width, height):
                raise DetectorError(
                    f"model {self.options.model} takes {width}x{height} images, not input_size "
                    f"{wanted[0]}x{wanted[1]}; leave input_size out"
                )
        else:
            width, height = wanted or (DEFAULT_SIDE, DEFAULT_SIDE)
        return channels_last, width, height, shape[0] if shape[0] > 0 else None

    def _batch_size(self, metadata: ModelMetadata, fetch: list[str]) -> int:
        """`max_batch` when every output read has a batch axis (-1), else one image a request."""
        by_name = {spec.name: spec for spec in metadata.outputs}
        batched = all(by_name[name].shape[:1] == (-1,) for name in fetch)
        return self.options.max_batch if batched else 1

    def _label_columns(
        self, layout: OutputLayout, outputs: list[npt.NDArray[Any]]
    ) -> tuple[tuple[str, ...], int]:
        """The labels, and the score column of class 0 (1 after a background slot)."""
        classes = layout.num_classes
        labels = self._labels
        if labels is None:
            if classes == 80:
                labels = COCO_LABELS
            elif classes in (90, 91) or (classes is None and layout.kind == "ssd"):
                labels = coco_id_labels()
            else:
                raise DetectorError(
                    f"model {self.options.model} scores {classes} classes: set `labels` to its "
                    "class names"
                )
        if classes is None or classes == len(labels):
            return labels, 0
        if layout.kind == "ssd_scores" and classes == len(labels) + 1:
            return labels, 1
        shown = shape_text(outputs[layout.scores if layout.kind == "ssd_scores" else 0].shape)
        raise DetectorError(
            f"model {self.options.model} scores {classes} classes (output {shown}, "
            f"{layout.kind} layout) but {len(labels)} labels are given: set `labels` to the "
            "model's class names"
        )

    # ---------------------------------------------------------- each call

    async def _infer(self, model: RemoteModel, images: list[RGB]) -> list[list[Detection]]:
        tensor, boxes = await asyncio.to_thread(model.pack, images)
        outputs = await self._send(model.spec, tensor, model.fetch, model.binary, model)
        try:
            return await asyncio.to_thread(model.decode, outputs, boxes)
        except (IndexError, ValueError) as exc:
            self.model = None  # the model changed on the server: read it again next time
            raise Failure(f"outputs do not fit the model's layout: {exc}", retry=False) from None

    async def _send(
        self,
        spec: TensorSpec,
        tensor: npt.NDArray[Any],
        outputs: list[str],
        binary: bool,
        model: RemoteModel | None = None,
    ) -> dict[str, npt.NDArray[Any]]:
        body, headers = await asyncio.to_thread(
            encode_request, spec.name, spec.datatype, tensor, outputs, binary
        )
        status, answer, answer_headers = await self._request(
            "POST",
            self.options.model_url() / "infer",
            limit=MAX_ANSWER_BYTES,
            data=body,
            headers={**headers, **self._headers},
        )
        if status != 200:
            if model is not None and status in (400, 404):
                self.model = None  # read the model again: it may have been replaced
            raise self._status_failure(status, answer)
        try:
            decoded = await asyncio.to_thread(decode_response, answer, answer_headers)
        except ProtocolError as exc:
            raise Failure(str(exc), retry=False) from None
        missing = [name for name in outputs if name not in decoded]
        if missing:
            raise Failure(f"the answer lacks outputs {missing}", retry=False)
        count = len(tensor)
        for name in model.fetch if model is not None else ():
            array = decoded[name]
            if array.ndim == 0 or len(array) != count:
                shown = shape_text(array.shape)
                raise Failure(
                    f"output {name} {shown} does not have the batch size {count}", retry=False
                )
        return decoded

    def _status_failure(self, status: int, body: bytes) -> Failure:
        said = error_text(body)
        says = f": {said}" if said else ""
        if status in (401, 403):
            hint = "the server refused the token" if self._headers else "the server wants a token"
            return Failure(f"{hint} (HTTP {status}{says})", retry=False)
        if status == 404:
            version = f" version {self.options.version}" if self.options.version else ""
            return Failure(
                f"no model {self.options.model}{version} on the server (HTTP 404{says})",
                retry=False,
            )
        if status in (429, 503) or status >= 500:
            return Failure(f"server error HTTP {status}{says}", retry=True)
        return Failure(f"the server rejected the request (HTTP {status}{says})", retry=False)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        snippet = body[:80].decode("utf-8", "replace").strip()
        raise ProtocolError(f"answered with something that is not JSON: {snippet!r}") from None
