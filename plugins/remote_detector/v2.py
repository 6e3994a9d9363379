"""The Open Inference Protocol (KServe V2) REST wire format: metadata, typed tensors, binary data.

Pure functions, no I/O: `parse_metadata` reads `GET /v2/models/{name}`,
`encode_request` builds an infer body (JSON, or JSON followed by raw tensor
bytes when the server speaks the binary tensor data extension), and
`decode_response` turns an infer answer back into numpy arrays by output name.
Every problem is a `ProtocolError` whose message names what was wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

BINARY_EXTENSION = "binary_tensor_data"
"""What a server lists in `GET /v2` `extensions` when it takes and gives raw tensor bytes."""
HEADER_LENGTH = "Inference-Header-Content-Length"
JSON_DIGITS = 5
"""Decimals kept when floats go as JSON: far below what a detector sees, and half the text."""

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}


class ProtocolError(Exception):
    """The server said something that is not (or not usable) V2."""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model: name, V2 datatype, shape (-1 = any size)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype of this datatype (ProtocolError for BYTES and unknown ones)."""
        try:
            return DATATYPES[self.datatype]
        except KeyError:
            raise ProtocolError(
                f"tensor {self.name!r} has datatype {self.datatype}, which a detector cannot use"
            ) from None

    def describe(self) -> str:
        """`images FP32 [-1, 3, 640, 640]`."""
        return f"{self.name} {self.datatype} [{', '.join(map(str, self.shape))}]"


@dataclass(frozen=True)
class ModelMetadata:
    """What `GET /v2/models/{name}` says about a model."""

    name: str
    versions: tuple[str, ...]
    platform: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def parse_metadata(answer: Any) -> ModelMetadata:
    """Model metadata from its JSON; ProtocolError when a required part is missing."""
    if not isinstance(answer, dict):
        raise ProtocolError("model metadata is not a JSON object")
    try:
        inputs = tuple(_tensor_spec(item) for item in answer["inputs"])
        outputs = tuple(_tensor_spec(item) for item in answer["outputs"])
    except (KeyError, TypeError) as exc:
        raise ProtocolError(f"model metadata lacks inputs or outputs ({exc!r})") from None
    if not inputs or not outputs:
        raise ProtocolError("model metadata lists no inputs or no outputs")
    versions = answer.get("versions") or []
    return ModelMetadata(
        name=str(answer.get("name", "")),
        versions=tuple(str(v) for v in versions) if isinstance(versions, list) else (),
        platform=str(answer.get("platform", "")),
        inputs=inputs,
        outputs=outputs,
    )


def _tensor_spec(item: Mapping[str, Any]) -> TensorSpec:
    shape = tuple(int(d) for d in item["shape"])
    return TensorSpec(str(item["name"]), str(item["datatype"]).upper(), shape)


def encode_request(
    name: str,
    datatype: str,
    tensor: npt.NDArray[Any],
    outputs: Sequence[str],
    binary: bool,
    request_id: str = "",
) -> tuple[bytes, dict[str, str]]:
    """An infer request body with one input and the outputs wanted; and its headers."""
    wanted: list[dict[str, Any]] = [{"name": output} for output in outputs]
    head: dict[str, Any] = {
        "inputs": [{"name": name, "shape": list(tensor.shape), "datatype": datatype}]
    }
    if request_id:
        head["id"] = request_id
    if binary:
        raw = np.ascontiguousarray(tensor, dtype=DATATYPES[datatype].newbyteorder("<")).tobytes()
        head["inputs"][0]["parameters"] = {"binary_data_size": len(raw)}
        for output in wanted:
            output["parameters"] = {"binary_data": True}
        head["outputs"] = wanted
        header = json.dumps(head, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/octet-stream",
            HEADER_LENGTH: str(len(header)),
        }
        return header + raw, headers
    head["outputs"] = wanted
    flat = tensor.ravel()
    if flat.dtype.kind == "f":
        data = np.round(flat.astype(np.float64), JSON_DIGITS).tolist()
    else:
        data = flat.tolist()
    head["inputs"][0]["data"] = data
    return json.dumps(head, separators=(",", ":")).encode(), {"Content-Type": "application/json"}


def decode_response(body: bytes, headers: Mapping[str, str]) -> dict[str, npt.NDArray[Any]]:
    """The outputs of an infer answer by name, each as an array of its shape."""
    length_text = _header(headers, HEADER_LENGTH)
    if length_text is not None:
        try:
            length = int(length_text)
        except ValueError:
            raise ProtocolError(f"{HEADER_LENGTH} is not a number: {length_text[:40]!r}") from None
        if not 0 < length <= len(body):
            raise ProtocolError(f"{HEADER_LENGTH} {length} does not fit a {len(body)}-byte answer")
        head_bytes, raw = body[:length], body[length:]
    else:
        head_bytes, raw = body, b""
    try:
        answer = json.loads(head_bytes)
    except ValueError:
        snippet = head_bytes[:80].decode("utf-8", "replace").strip()
        raise ProtocolError(f"answered with something that is not JSON: {snippet!r}") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("outputs"), list):
        raise ProtocolError("answer has no `outputs` list")
    arrays: dict[str, npt.NDArray[Any]] = {}
    offset = 0
    for output in answer["outputs"]:
        try:
            spec = _tensor_spec(output)
        except (KeyError, TypeError, ValueError):
            raise ProtocolError("an output lacks name, datatype or shape") from None
        size = (output.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            chunk = raw[offset : offset + int(size)]
            if len(chunk) != int(size):
                raise ProtocolError(f"output {spec.name!r}: binary data cut short")
            offset += int(size)
            values = np.frombuffer(chunk, dtype=spec.dtype.newbyteorder("<"))
        else:
            if "data" not in output:
                raise ProtocolError(f"output {spec.name!r} has no data")
            try:
                values = np.asarray(output["data"], dtype=spec.dtype).ravel()
            except (TypeError, ValueError):
                raise ProtocolError(f"output {spec.name!r}: data is not {spec.datatype}") from None
        if values.size != int(np.prod(spec.shape, dtype=np.int64)):
            raise ProtocolError(
                f"output {spec.name!r} has {values.size} values for shape {list(spec.shape)}"
            )
        arrays[spec.name] = values.reshape(spec.shape).astype(spec.dtype, copy=False)
    return arrays


def error_text(body: bytes) -> str:
    """What a V2 server says in an error answer (`{"error": ...}`), shortened; '' if nothing."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    if isinstance(answer, dict):
        said = answer.get("error") or answer.get("detail") or answer.get("message")
        if said:
            return str(said)[:300]
    return ""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None
