"""A V2 server that speaks the binary tensor data extension, as Triton does, for the tests.

MLServer (the tests' real V2 server) has no binary tensors, and Triton cannot
be installed here; so this small aiohttp server runs the model with ONNX Runtime
and answers the Open Inference Protocol on a real socket: `GET /v2` (advertising
`binary_tensor_data`), health, model metadata, and infer with JSON or binary
tensors (`Inference-Header-Content-Length`, `binary_data_size`, binary outputs
when asked). With `token` set, every call needs `Authorization: Bearer <token>`.
It records what it was sent (`requests`), for the tests to check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from aiohttp import web

V2_TYPES = {"tensor(float)": "FP32", "tensor(uint8)": "UINT8", "tensor(int64)": "INT64"}
NUMPY = {"FP32": np.float32, "UINT8": np.uint8, "INT64": np.int64}


@dataclass
class Seen:
    """One infer request as it arrived."""

    content_type: str
    binary_input: bool
    binary_outputs: bool
    shape: list[int]


@dataclass
class BinaryV2Server:
    """`app()` serves `model` as `name`; `requests` lists the infer calls."""

    model: Path
    name: str = "detector"
    token: str | None = None
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session = ort.InferenceSession(str(self.model), providers=["CPUExecutionProvider"])

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth], client_max_size=256 << 20)
        app.router.add_get("/v2", self._server)
        app.router.add_get("/v2/health/ready", self._ready)
        app.router.add_get(f"/v2/models/{self.name}", self._metadata)
        app.router.add_post(f"/v2/models/{self.name}/infer", self._infer)
        return app

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    async def _server(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"name": "test-v2", "version": "1", "extensions": ["binary_tensor_data"]}
        )

    async def _ready(self, request: web.Request) -> web.Response:
        return web.Response()

    async def _metadata(self, request: web.Request) -> web.Response:
        def tensors(nodes: list[Any]) -> list[dict[str, Any]]:
            return [
                {
                    "name": n.name,
                    "datatype": V2_TYPES[n.type],
                    "shape": [d if isinstance(d, int) else -1 for d in n.shape],
                }
                for n in nodes
            ]

        return web.json_response(
            {
                "name": self.name,
                "versions": ["1"],
                "platform": "onnxruntime_onnx",
                "inputs": tensors(self.session.get_inputs()),
                "outputs": tensors(self.session.get_outputs()),
            }
        )

    async def _infer(self, request: web.Request) -> web.Response:
        body = await request.read()
        length = request.headers.get("Inference-Header-Content-Length")
        head = json.loads(body[: int(length)] if length else body)
        raw = body[int(length) :] if length else b""
        (given,) = head["inputs"]
        size = (given.get("parameters") or {}).get("binary_data_size")
        dtype = NUMPY[given["datatype"]]
        if size is not None:
            values = np.frombuffer(raw[:size], dtype=dtype)
        else:
            values = np.asarray(given["data"], dtype=dtype)
        tensor = values.reshape(given["shape"])
        wanted = head.get("outputs") or [{"name": o.name} for o in self.session.get_outputs()]
        names = [o["name"] for o in wanted]
        binary_out = [
            bool((o.get("parameters") or {}).get("binary_data"))
            or bool((head.get("parameters") or {}).get("binary_data_output"))
            for o in wanted
        ]
        self.requests.append(
            Seen(request.content_type, size is not None, all(binary_out), list(tensor.shape))
        )
        results = self.session.run(names, {given["name"]: tensor})
        outputs, chunks = [], []
        for name, result, binary in zip(names, results, binary_out, strict=True):
            array = np.ascontiguousarray(result)
            datatype = V2_TYPES[f"tensor({'float' if array.dtype == np.float32 else array.dtype})"]
            output: dict[str, Any] = {
                "name": name,
                "datatype": datatype,
                "shape": list(array.shape),
            }
            if binary:
                chunks.append(array.tobytes())
                output["parameters"] = {"binary_data_size": len(chunks[-1])}
            else:
                output["data"] = array.ravel().tolist()
            outputs.append(output)
        answer = json.dumps({"model_name": self.name, "outputs": outputs}).encode()
        if not chunks:
            return web.Response(body=answer, content_type="application/json")
        return web.Response(
            body=answer + b"".join(chunks),
            headers={
                "Inference-Header-Content-Length": str(len(answer)),
                "Content-Type": "application/octet-stream",
            },
        )
