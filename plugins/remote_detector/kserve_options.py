"""Options of a `kserve` detector: a model on an Open Inference Protocol (KServe V2) server."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from yarl import URL

from hub import redact_url
from plugins.remote_detector.options import RemoteOptions, _http_url

Layout = Literal["auto", "yolov5", "yolov8", "ssd", "ssd_scores"]
InputRange = Literal["auto", "0..1", "-1..1", "0..255"]
Side = Annotated[int, Field(ge=16, le=4096)]
SSD_NMS_IOU = 0.6
"""Class-aware NMS overlap for TensorFlow SSD heads (what their own post-processing used)."""
OTHER_NMS_IOU = 0.45
"""Class-aware NMS overlap for other models (what YOLO exports are tuned for)."""


class KServeOptions(RemoteOptions):
    """Options of a `kserve` detector (Triton, KServe, Seldon MLServer, OpenVINO Model Server)."""

    url: str = Field(
        description="Base URL of the server's V2 REST API, e.g. `http://192.168.1.60:8000` "
        "(`/v2/...` is appended)."
    )
    model: str = Field(
        min_length=1, description="The model's name on the server (`/v2/models/{model}`)."
    )
    version: str | None = Field(
        None,
        min_length=1,
        description="A model version (`/v2/models/{model}/versions/{version}`); default: the "
        "server's choice.",
    )
    token: str | None = Field(
        None,
        repr=False,
        description="Bearer token sent as `Authorization: Bearer ...` (an API gateway's or "
        "KServe's); best kept in secrets.yaml.",
    )
    ca_file: str | None = Field(
        None,
        min_length=1,
        description="PEM file of the CA that signed an https:// server's certificate (your own "
        "CA); default: the system's trusted CAs.",
    )
    binary: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Send and receive tensors as raw bytes (the binary tensor data extension): "
        "auto uses it when the server advertises `binary_tensor_data` (Triton does, MLServer "
        "does not); off always sends JSON.",
    )
    labels: Annotated[list[str], Field(min_length=1)] | str | None = Field(
        None,
        description="Class names in the model's order: a list, or a text file with one name per "
        "line (absolute, in the data dir's `models` folder or next to the config); `???` marks "
        "an unused class. Default: the COCO names for a model with 80 (YOLO) or 90/91 (SSD) "
        "classes.",
    )
    layout: Layout = Field(
        "auto",
        description="How to read the model's outputs, as for the `onnx` type: yolov5, yolov8, "
        "ssd or ssd_scores; auto tells them apart by shape and name.",
    )
    input_size: Side | tuple[Side, Side] | None = Field(
        None,
        description="Model input size for a model whose input accepts any size: one number for "
        "a square, or [width, height] (default 640). A fixed size is read from the server.",
    )
    input_range: InputRange = Field(
        "auto",
        description="Pixel values the model expects: 0..1 (YOLO), -1..1 (TensorFlow MobileNet "
        "models) or 0..255. auto: -1..1 for a TensorFlow SSD head (ssd_scores), 0..1 for other "
        "float inputs, 0..255 for integer inputs.",
    )
    score_threshold: float = Field(
        0.4, ge=0, le=1, description="Detections scoring below this are dropped."
    )
    nms_iou: float | None = Field(
        None,
        gt=0,
        le=1,
        description=f"Overlap (IoU) above which a lower-scoring box of the same label is "
        f"dropped. Default: {SSD_NMS_IOU} for ssd_scores models, {OTHER_NMS_IOU} for others.",
    )
    max_batch: int = Field(
        4,
        ge=1,
        le=64,
        description="Most images (regions of one frame) sent in one request, when the model's "
        "batch dimension allows it.",
    )
    ssd_box_order: Literal["yxyx", "xyxy"] = Field(
        "yxyx", description="ssd and ssd_scores layouts: corner order of each box."
    )
    ssd_box_units: Literal["normalized", "pixels"] = Field(
        "normalized",
        description="ssd and ssd_scores layouts: boxes as 0..1 of the model input, or its pixels.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("model", "version")
    @classmethod
    def _path_segment(cls, value: str | None) -> str | None:
        if value is not None and ("/" in value or value in (".", "..")):
            raise ValueError("must be a name, without '/'")
        return value

    def model_url(self) -> URL:
        """`<url>/v2/models/<model>[/versions/<version>]`."""
        url = URL(self.url)
        path = url.path.rstrip("/") + "/v2/models/" + self.model
        if self.version is not None:
            path += "/versions/" + self.version
        return url.with_path(path)

    def server_url(self, path: str) -> URL:
        """`<url>/v2<path>`."""
        url = URL(self.url)
        return url.with_path(url.path.rstrip("/") + "/v2" + path)

    def summary(self) -> str:
        """One line for logs and the panel."""
        version = f" version {self.version}" if self.version else ""
        return f"model {self.model}{version} on {redact_url(self.url)}"
