"""Memory benchmark: the resident size of `camhub run`, alone and per camera, model loaded.

Run: .venv/bin/python bench/memory.py [--cameras 1 4] [--source rtsp|demo]
     [--settle 20] [--seconds 20] [--camhub PATH] [--json FILE]

For 0 cameras and then each count N it starts a real `camhub run` process on a
config of its own (127.0.0.1, a temporary data dir, continuous recording, motion
and object detection on, and the bundled COCO model loaded at start through a
`detectors` entry, so that even the hub with no camera holds it), waits for
/api/health, lets it settle, and samples VmRSS once a second. Printed: the hub
alone (target <= 120 MB), the first camera, and each extra camera (target
<= 40 MB), never pass/fail.

Sources: `rtsp` (default) reads 1280x720@15 H.264 from the real RTSP server of
the tests, one session per camera, like real cameras; `demo` runs the built-in
demo camera (640x360, encoded in the hub's own process, so it also counts an
encoder a real camera would not need). Only the standard library is imported
(the RTSP server aside), so scripts/arm64_check.sh runs this same file in the
arm64 root under qemu-user (ARM64_MEMORY=1), where qemu's translated code sits
in writable+executable memory: that part is shown apart and taken out of "net".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BASE_TARGET_MB = 120
PER_CAMERA_TARGET_MB = 40
MODELS = Path("plugins") / "onnx_detector" / "models"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bundled_model(camhub: Path) -> bool:
    """Whether the camhub this runs ships the bundled COCO model (asked of its own Python)."""
    python = camhub.with_name("python")
    code = (
        "import pathlib, plugins.onnx_detector as p; "
        "print(any((pathlib.Path(p.__file__).parent / 'models').glob('*.onnx')))"
    )
    # From /, so that a checkout in the working directory does not answer instead.
    done = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, timeout=300, cwd="/"
    )
    return done.stdout.strip() == "True"


def config_text(urls: list[str], port: int, data: Path, model: bool) -> str:
    lines = [
        f"server: {{host: 127.0.0.1, port: {port}}}",
        f"storage: {{path: {data}}}",
        "logging: {level: info}",
    ]
    if model:
        # An entry is built at start, camera or not: the no-camera hub holds the model too.
        lines.append("detectors: {coco: {type: onnx}}")
    lines.append("cameras:" if urls else "cameras: {}")
    for index, url in enumerate(urls):
        lines.append(f"  cam{index}: {{url: '{url}', record: {{mode: continuous}}}}")
    return "\n".join(lines) + "\n"


def status_kb(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def writable_code_kb(pid: int) -> int:
    """RSS of anonymous rwx mappings: qemu-user's translated code; about 0 natively."""
    total = 0
    inside = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and "-" in fields[0] and not fields[0].endswith(":"):
            inside = fields[1].startswith("rwx") and len(fields) == 5
        elif inside and fields[:1] == ["Rss:"]:
            total += int(fields[1])
    return total


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_healthy(process: subprocess.Popen[bytes], port: int, limit: float, log: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if process.poll() is not None:
            raise RuntimeError(f"camhub exited {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            url = f"http://127.0.0.1:{port}/api/health"
            with urllib.request.urlopen(url, timeout=5) as answer:
                if json.load(answer).get("status") == "ok":
                    return time.monotonic() - started
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"no healthy hub within {limit:.0f} s:\n{log.read_text()[-2000:]}")


def run_phase(args: argparse.Namespace, urls: list[str], model: bool, work: Path) -> dict[str, Any]:
    """One `camhub run` with these cameras: memory over the window, after it settled."""
    phase = work / f"cameras-{len(urls)}"
    data = phase / "data"
    data.mkdir(parents=True)
    port = free_port()
    config = phase / "config.yaml"
    config.write_text(config_text(urls, port, data, model))
    log = phase / "camhub.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(args.camhub), "run", "--config", str(config)], stdout=out, stderr=out
        )
    try:
        start_s = wait_healthy(process, port, args.start_limit, log)
        time.sleep(args.settle)
        cpu_before, began = cpu_seconds(process.pid), time.monotonic()
        samples = []
        while time.monotonic() - began < args.seconds:
            samples.append(status_kb(process.pid)["VmRSS"])
            time.sleep(1)
        cpu = (cpu_seconds(process.pid) - cpu_before) / (time.monotonic() - began)
        code_kb = writable_code_kb(process.pid)
        peak_kb = status_kb(process.pid)["VmHWM"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    text = log.read_text(errors="replace")
    # footage/<camera>/<day>/<hour>/<start>.mp4
    recording = {p.relative_to(data).parts[1] for p in data.rglob("*.mp4")}
    return {
        "cameras": len(urls),
        "start_s": round(start_s, 1),
        "rss_mb": statistics.median(samples) / 1024,
        "peak_mb": peak_kb / 1024,
        "writable_code_mb": code_kb / 1024,
        "net_mb": (statistics.median(samples) - code_kb) / 1024,
        "cpu_core_fraction": cpu,
        "model_loaded": "ONNX model" in text,
        "cameras_recording": len(recording),
    }


def camera_urls(args: argparse.Namespace, count: int, server: Any) -> list[str]:
    if args.source == "demo":
        return ["demo://"] * count
    return [server.url("/cam")] * count


def start_rtsp_server() -> Any:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.servers.fixtures import Mount, RtspServer

    mount = Mount("/cam", width=1280, height=720, fps=15, pattern="smpte")
    return RtspServer([mount], protocols=("tcp",)).start()


def report(results: list[dict[str, Any]], args: argparse.Namespace, model: bool) -> None:
    print(f"\ncamhub {args.camhub}, source {args.source}, model loaded at start: {model}")
    header = f"{'cameras':>7} {'RSS MB':>8} {'peak':>7} {'rwx MB':>7} {'net MB':>7} {'CPU':>6}"
    print(header + "  start   model  recording")
    for r in results:
        print(
            f"{r['cameras']:>7} {r['rss_mb']:>8.1f} {r['peak_mb']:>7.1f} "
            f"{r['writable_code_mb']:>7.1f} {r['net_mb']:>7.1f} {r['cpu_core_fraction']:>6.1%}"
            f"  {r['start_s']:>5.1f}s  {'yes' if r['model_loaded'] else 'no':>5}  "
            f"{r['cameras_recording']}/{r['cameras']}"
        )
    base = results[0]
    print(f"\nhub alone (net): {base['net_mb']:.1f} MB  (target <= {BASE_TARGET_MB})")
    if len(results) > 1:
        first = results[1]
        per_first = first["net_mb"] - base["net_mb"]
        print(f"first camera:    {per_first / max(first['cameras'], 1):.1f} MB per camera")
    if len(results) > 2:
        low, high = results[1], results[-1]
        extra = (high["net_mb"] - low["net_mb"]) / (high["cameras"] - low["cameras"])
        print(
            f"extra camera:    {extra:.1f} MB each, {low['cameras']} -> {high['cameras']}"
            f"  (target <= {PER_CAMERA_TARGET_MB})"
        )
    print("(net = RSS less writable+executable memory: qemu-user's code cache under emulation)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    default_camhub = Path(sys.executable).with_name("camhub")
    parser.add_argument("--camhub", type=Path, default=default_camhub, help="the program")
    parser.add_argument("--cameras", type=int, nargs="+", default=[1, 4], help="camera counts")
    parser.add_argument("--source", choices=["rtsp", "demo"], default="rtsp")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds before sampling")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of samples")
    parser.add_argument("--start-limit", type=float, default=300.0, help="seconds to start")
    parser.add_argument("--no-model", action="store_true", help="no detectors entry")
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    model = not args.no_model and bundled_model(args.camhub)
    if not model and not args.no_model:
        print("this camhub bundles no model: measured without a detector", file=sys.stderr)
    server = start_rtsp_server() if args.source == "rtsp" else None
    work = Path(tempfile.mkdtemp(prefix="camhub-memory-"))
    results = []
    try:
        for count in [0, *sorted(set(args.cameras))]:
            result = run_phase(args, camera_urls(args, count, server), model, work)
            print(f"{count} camera(s): {json.dumps(result)}", file=sys.stderr, flush=True)
            results.append(result)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(results, args, model)
    if args.json:
        args.json.write_text(json.dumps({"source": args.source, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
