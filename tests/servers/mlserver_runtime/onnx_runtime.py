"""An MLServer runtime serving one ONNX file with ONNX Runtime: the V2 server of the tests.

Runs inside MLServer's own venv (tests/servers/mlserver.py starts it), not the
project's. model-settings.json names it `onnx_runtime.OnnxRuntimeModel`, with
`parameters.uri` the .onnx file. The model's inputs and outputs are read from
the graph, so `GET /v2/models/{name}` lists each with its datatype and shape
(dynamic dims as -1). A request must send every input with the model's
datatype and a fitting shape; `outputs` selects outputs (default: all), each
returned with the shape ONNX Runtime produced (a constant without a batch axis
stays as it is). Problems are 400s saying what was wrong.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs.numpy import to_datatype
from mlserver.errors import InferenceError, MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, MetadataTensor, ResponseOutput
from mlserver.utils import get_model_uri

ORT_TO_V2 = {
    "tensor(bool)": "BOOL",
    "tensor(uint8)": "UINT8",
    "tensor(int8)": "INT8",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(float16)": "FP16",
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
}
V2_TO_NUMPY: dict[str, Any] = {
    "BOOL": np.bool_,
    "UINT8": np.uint8,
    "INT8": np.int8,
    "INT32": np.int32,
    "INT64": np.int64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
}


def _tensors(nodes: list[Any]) -> list[MetadataTensor]:
    found = []
    for node in nodes:
        if node.type not in ORT_TO_V2:
            raise MLServerError(f"unsupported ONNX type {node.type} of {node.name}")
        shape = [d if isinstance(d, int) and d >= 0 else -1 for d in node.shape]
        found.append(MetadataTensor(name=node.name, datatype=ORT_TO_V2[node.type], shape=shape))
    return found


def _name(value: Any) -> str:
    return str(getattr(value, "value", value))


class OnnxRuntimeModel(MLModel):  # type: ignore[misc]
    """Serves the ONNX file at `parameters.uri`."""

    _session: ort.InferenceSession | None = None

    async def load(self) -> bool:
        path = await get_model_uri(self.settings, wellknown_filenames=["model.onnx"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            path, sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.inputs = _tensors(self._session.get_inputs())
        self.outputs = _tensors(self._session.get_outputs())
        self._in = {t.name: t for t in self.inputs}
        self._out = [t.name for t in self.outputs]
        self.settings.platform = "onnxruntime"
        # V2 metadata `versions` lists the versions one can ask for.
        if self.version:
            self.settings.versions = [self.version]
        return True

    def _feeds(self, payload: InferenceRequest) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {}
        for given in payload.inputs:
            meta = self._in.get(given.name)
            if meta is None:
                raise InferenceError(f"unexpected input '{given.name}'")
            want, got = _name(meta.datatype), _name(given.datatype)
            if got != want:
                raise InferenceError(f"input '{given.name}' is {got}, the model expects {want}")
            shape = list(given.shape)
            if len(shape) != len(meta.shape) or any(
                e >= 0 and s != e for s, e in zip(shape, meta.shape, strict=True)
            ):
                raise InferenceError(f"input '{given.name}' has shape {shape}, not {meta.shape}")
            data = getattr(given.data, "root", given.data)
            try:
                feeds[given.name] = np.asarray(data, dtype=V2_TO_NUMPY[want]).reshape(shape)
            except (ValueError, TypeError) as exc:
                raise InferenceError(f"input '{given.name}': {exc}") from None
        missing = [name for name in self._in if name not in feeds]
        if missing:
            raise InferenceError(f"missing inputs {missing}")
        return feeds

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if self._session is None:
            raise InferenceError(f"model {self.name} is not loaded")
        feeds = self._feeds(payload)
        names = [o.name for o in payload.outputs] if payload.outputs else list(self._out)
        unknown = [n for n in names if n not in self._out]
        if unknown:
            raise InferenceError(f"unknown outputs {unknown}")
        session = self._session
        # In a thread: health and metadata calls stay answered while the model runs.
        results = await asyncio.get_running_loop().run_in_executor(None, session.run, names, feeds)
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[
                ResponseOutput(
                    name=name,
                    shape=list(array.shape),
                    datatype=to_datatype(array.dtype),
                    data=array.ravel().tolist(),
                )
                for name, array in zip(names, results, strict=True)
            ],
        )
