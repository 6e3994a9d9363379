"""The `kserve` path against the local `onnx` path, in the same run (bench/objects.py --kserve).

One model file, run two ways on the same crops: by the local `onnx` detector,
and through a real V2 server (MLServer in its own venv, see
tests/servers/mlserver.py) by the `kserve` detector on loopback. Prints HTTP
requests per detector call (the crops of a frame go in one batched request),
latency p50/p95 of a call with 1 and 3 crops both ways, and how many calls a
second one server answers when several hubs (separate processes, one detector
each) call it at once.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BUNDLED = REPO / "plugins" / "onnx_detector" / "models" / "ssd_mobilenet_v3_large_coco.onnx"


def crops(count: int, seed: int = 1) -> list[Any]:
    """Crops of a camera frame around motion: 240x240, textured so models have work."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (240, 240, 3), dtype=np.uint8) for _ in range(count)]


def model_for_bench(folder: Path) -> tuple[Path, dict[str, Any]]:
    """The bundled COCO model when installed, else a test model of the YOLOv8 layout."""
    if BUNDLED.is_file():
        return BUNDLED, {}
    from tests.plugins.onnx_models import white_box_finder

    return white_box_finder(folder / "finder.onnx", size=(320, 320)), {"labels": ["person"]}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def build_local(model: Path, extra: dict[str, Any]) -> Any:
    import plugins.onnx_detector as onnx_detector

    options = {"model": None if model == BUNDLED else str(model), **extra}
    options = {k: v for k, v in options.items() if v is not None}
    (spec,) = onnx_detector.detector_types()
    return spec.create(_BareHub(), "local", spec.options.model_validate(options))


def build_remote(url: str, name: str, extra: dict[str, Any]) -> Any:
    import plugins.remote_detector as remote_detector

    spec = next(s for s in remote_detector.detector_types() if s.name == "kserve")
    options = spec.options.model_validate({"url": url, "model": name, "timeout": 30, **extra})
    return spec.create(_BareHub(), "gpu", options)


class _BareHub:
    """What `create` reads of a hub: a data dir and the config's path (none here)."""

    data_dir = Path(tempfile.gettempdir())

    class loaded:  # mirrors hub.loaded
        path = None


async def time_calls(detector: Any, images: list[Any], rounds: int) -> list[float]:
    """Milliseconds of each `async_detect` call (after one warm-up call)."""
    await detector.async_detect(images)
    spent = []
    for _ in range(rounds):
        started = time.perf_counter()
        await detector.async_detect(images)
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def _hub_process(url: str, name: str, extra: dict[str, Any], seconds: float, queue: Any) -> None:
    """One hub: a kserve detector calling with 2 crops as fast as answers come."""

    async def loop() -> tuple[int, list[float]]:
        detector = build_remote(url, name, extra)
        images = crops(2, seed=7)
        await detector.async_detect(images)
        latencies = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await detector.async_detect(images)
            latencies.append((time.perf_counter() - started) * 1000)
        await detector.async_close()
        return len(latencies), latencies

    queue.put(asyncio.run(loop()))


def several_hubs(url: str, name: str, extra: dict[str, Any], hubs: int, seconds: float) -> str:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [
        context.Process(target=_hub_process, args=(url, name, extra, seconds, queue))
        for _ in range(hubs)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=seconds + 120) for _ in processes]
    for process in processes:
        process.join()
    calls = sum(count for count, _ in results)
    latencies = [ms for _, values in results for ms in values]
    return (
        f"{hubs} hub(s): {calls / seconds:6.1f} calls/s in all ({2 * calls / seconds:6.1f} "
        f"crops/s), p50 {statistics.median(latencies):6.0f} ms, "
        f"p95 {percentile(latencies, 0.95):6.0f} ms per call"
    )


async def compare(seconds: float, rounds: int, hub_counts: list[int]) -> None:
    from tests.servers.mlserver import MLServer, mlserver_python

    python = mlserver_python()
    if python is None:
        print("kserve: MLServer's venv is missing; run scripts/test.sh once (it makes it)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        model, extra = model_for_bench(Path(tmp))
        print(f"\nkserve vs local, model {model.name}, crops of 240x240")
        server = MLServer(python, Path(tmp) / "mls", model, "detector", "1")
        try:
            print(f"MLServer ready in {server.ready_seconds:.1f} s on {server.url}")
            local = build_local(model, extra)
            remote = build_remote(server.url, "detector", extra)
            await remote.async_detect(crops(1))  # reads the model: not part of any call below
            for count in (1, 3):
                images = crops(count)
                before = remote.stats()["requests"]
                remote_ms = await time_calls(remote, images, rounds)
                requests = (remote.stats()["requests"] - before) / (rounds + 1)
                local_ms = await time_calls(local, images, rounds)
                print(
                    f"{count} crop(s): local p50 {statistics.median(local_ms):6.1f} ms "
                    f"p95 {percentile(local_ms, 0.95):6.1f} | kserve p50 "
                    f"{statistics.median(remote_ms):6.1f} ms p95 {percentile(remote_ms, 0.95):6.1f}"
                    f" | ratio {statistics.median(remote_ms) / statistics.median(local_ms):5.1f}x"
                    f" | HTTP requests per call {requests:.2f}"
                )
            model_info = remote.model
            if model_info is not None:
                transport = "binary" if model_info.binary else "JSON"
                print(
                    f"transport: {transport} tensors, {model_info.layout.kind} layout, "
                    f"up to {model_info.batch_size} crops a request"
                )
            await remote.async_close()
            for hubs in hub_counts:
                print(several_hubs(server.url, "detector", extra, hubs, seconds))
        finally:
            server.stop()
        await compare_binary(model, extra, rounds)


def _wait_ready(url: str, seconds: float) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _serve_binary(model: Path, port: int) -> None:
    """A V2 server with binary tensors (tests/servers/v2_binary.py), in its own process."""
    from aiohttp import web

    from tests.servers.v2_binary import BinaryV2Server

    web.run_app(BinaryV2Server(model).app(), host="127.0.0.1", port=port, print=None)


async def compare_binary(model: Path, extra: dict[str, Any], rounds: int) -> None:
    """JSON against binary tensors on the same small server: what the transport costs."""
    from tests.conftest import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = multiprocessing.get_context("spawn").Process(target=_serve_binary, args=(model, port))
    process.start()
    try:
        await asyncio.to_thread(_wait_ready, f"{url}/v2/health/ready", 60)
        print("same model on a V2 server with the binary tensor extension (as Triton has):")
        for binary in ("off", "on"):
            detector = build_remote(url, "detector", {**extra, "binary": binary})
            images = crops(3)
            spent = await time_calls(detector, images, rounds)
            await detector.async_close()
            print(
                f"3 crops, {'binary' if binary == 'on' else 'JSON'} tensors: p50 "
                f"{statistics.median(spent):6.1f} ms p95 {percentile(spent, 0.95):6.1f} ms"
            )
    finally:
        process.terminate()
        process.join(10)
