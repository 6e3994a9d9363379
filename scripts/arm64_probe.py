"""The part of scripts/arm64_check.sh that runs inside the arm64 root, under qemu-user.

Run with the root's venv python (the interpreter under test), as root, in a network
namespace of its own (only `lo`), so the hub's port and traffic stay private:

    /opt/camhub-venv/bin/python arm64_probe.py --config-example config.example.yaml \
        --picture astronaut.png --picture chelsea.png [--expect-model]

Checks, in order, each printing `==> probe: ...` and failing with exit code 1 and
`arm64 probe: FAIL: ...`:
  1. every installed distribution came as a wheel whose tags fit aarch64 (or are pure
     Python), and every ELF shared object in the venv is an AArch64 one;
  2. `camhub check-config` accepts the example config;
  3. ONNX Runtime imports and runs a tiny model (written here, no `onnx` needed);
  4. the hub's own detector, on the COCO model the wheel bundles, finds the person in
     the astronaut photo where she is and the cat in the cat photo (no bundled model:
     fails with --expect-model, else says it ran the tiny model only);
  5. `camhub run` with no config (the embedded demo camera) answers /api/health for
     --seconds without one failure, reports no problem and no failed plugin, keeps its
     camera online with its detector running, writes MP4 segments that PyAV decodes,
     and stops on SIGTERM.
The numbers go to --json. Only the standard library is used, apart from the packages
under test (onnxruntime, numpy, av, camhub), which are imported from the venv.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

EM_AARCH64 = 183
RUN_LOG = Path("/tmp/camhub-run.log")
RESULTS: dict[str, Any] = {}
# Checked by eye on scikit-image's astronaut photo (x0, y0, x1, y1): from her hair to the
# bottom edge, from the left edge to her left shoulder.
ASTRONAUT_PERSON = (20.0, 15.0, 365.0, 512.0)
MODELS_DIR = "plugins/onnx_detector/models"


class ProbeError(Exception):
    """A check failed; the message says which and why."""


def log(message: str) -> None:
    print(f"==> probe: {message}", flush=True)


def site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


# --- 1. wheels -------------------------------------------------------------------------


def wheel_tags(dist: metadata.Distribution) -> list[str]:
    text = dist.read_text("WHEEL") or ""
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]


def foreign_shared_objects(site: Path) -> tuple[int, list[str]]:
    """How many ELF objects the venv holds, and those that are not AArch64."""
    foreign = []
    shared = 0
    for path in site.rglob("*.so*"):
        if not path.is_file():
            continue
        with path.open("rb") as f:
            head = f.read(20)
        if head[:4] != b"\x7fELF":
            continue
        shared += 1
        if struct.unpack("<H", head[18:20])[0] != EM_AARCH64:
            foreign.append(str(path.relative_to(site)))
    return shared, foreign


def check_wheels() -> None:
    rows = []
    bad = []
    for dist in sorted(metadata.distributions(), key=lambda d: d.metadata["Name"].lower()):
        name, version = dist.metadata["Name"], dist.version
        tags = wheel_tags(dist)
        platforms = sorted({t.rsplit("-", 1)[-1] for t in tags})
        rows.append({"name": name, "version": version, "platforms": platforms})
        if not tags:
            bad.append(f"{name} {version}: no WHEEL tags (built from source?)")
        elif not all(p == "any" or "aarch64" in p for p in platforms):
            bad.append(f"{name} {version}: platform {','.join(platforms)} is not aarch64")
    RESULTS["wheels"] = rows
    for row in rows:
        print(f"    {row['name']}=={row['version']}  {' '.join(row['platforms'])}")
    shared, foreign = foreign_shared_objects(site_packages())
    RESULTS["shared_objects"] = shared
    if foreign:
        bad.append(f"non-AArch64 shared objects: {', '.join(foreign[:5])}")
    if bad:
        more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ProbeError("; ".join(bad[:5]) + more)
    log(f"{len(rows)} distributions, all aarch64 or pure-Python wheels; {shared} ELF objects")


# --- 2. check-config -------------------------------------------------------------------


def check_config(camhub: str, example: Path) -> None:
    start = time.monotonic()
    done = subprocess.run(
        [camhub, "check-config", str(example)], capture_output=True, text=True, timeout=600
    )
    RESULTS["check_config_s"] = round(time.monotonic() - start, 1)
    output = (done.stdout + done.stderr).strip()
    print("    " + output.replace("\n", "\n    "))
    if done.returncode != 0:
        raise ProbeError(f"camhub check-config {example} exited {done.returncode}")
    log(f"check-config OK in {RESULTS['check_config_s']} s")


# --- 3. ONNX Runtime -------------------------------------------------------------------
# A minimal protobuf writer, enough for an ONNX model y = Relu(x @ W + b): the probe then
# needs no `onnx` package (its wheel would be one more thing to install under emulation).


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _tensor(name: str, dims: list[int], values: list[float]) -> bytes:
    # TensorProto: dims=1, data_type=2 (1 = FLOAT), name=8, raw_data=9 (little endian).
    raw = struct.pack(f"<{len(values)}f", *values)
    return b"".join(_field(1, d) for d in dims) + _field(2, 1) + _field(8, name) + _field(9, raw)


def _value_info(name: str, dims: list[int]) -> bytes:
    # ValueInfoProto{name=1, type=2: TypeProto{tensor_type=1: {elem_type=1, shape=2}}}
    shape = b"".join(_field(1, _field(1, d)) for d in dims)
    return _field(1, name) + _field(2, _field(1, _field(1, 1) + _field(2, shape)))


def _node(op: str, inputs: list[str], outputs: list[str]) -> bytes:
    return (
        b"".join(_field(1, i) for i in inputs)
        + b"".join(_field(2, o) for o in outputs)
        + _field(3, op.lower())
        + _field(4, op)
    )


def tiny_model(n_in: int, n_out: int) -> tuple[bytes, list[float], list[float]]:
    weights = [((i * 7 + 3) % 11 - 5) / 8 for i in range(n_in * n_out)]
    bias = [(j % 5 - 2) / 4 for j in range(n_out)]
    graph = (
        _field(1, _node("MatMul", ["x", "W"], ["xw"]))
        + _field(1, _node("Add", ["xw", "b"], ["z"]))
        + _field(1, _node("Relu", ["z"], ["y"]))
        + _field(2, "camhub_arm64_probe")
        + _field(5, _tensor("W", [n_in, n_out], weights))
        + _field(5, _tensor("b", [n_out], bias))
        + _field(11, _value_info("x", [1, n_in]))
        + _field(12, _value_info("y", [1, n_out]))
    )
    # ModelProto: ir_version=1, producer_name=2, graph=7, opset_import=8 {domain=1, version=2}
    model = _field(1, 7) + _field(2, "arm64_probe") + _field(7, graph) + _field(8, _field(2, 13))
    return model, weights, bias


def check_onnxruntime() -> None:
    start = time.monotonic()
    import numpy as np
    import onnxruntime as ort

    RESULTS["onnxruntime_import_s"] = round(time.monotonic() - start, 1)
    RESULTS["onnxruntime"] = ort.__version__
    providers = ort.get_available_providers()
    took = RESULTS["onnxruntime_import_s"]
    log(f"onnxruntime {ort.__version__} imported in {took} s, providers {providers}")
    n_in, n_out = 64, 16
    model, weights, bias = tiny_model(n_in, n_out)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    x = [((i * 5) % 9 - 4) / 3 for i in range(n_in)]
    got = session.run(None, {"x": np.array([x], dtype=np.float32)})[0][0]
    want = [
        max(0.0, sum(x[i] * weights[i * n_out + j] for i in range(n_in)) + bias[j])
        for j in range(n_out)
    ]
    worst = max(abs(float(g) - w) for g, w in zip(got, want, strict=True))
    RESULTS["tiny_model_max_error"] = worst
    if worst > 1e-4:
        raise ProbeError(f"tiny ONNX model: wrong output (max error {worst})")
    log(f"tiny ONNX model (MatMul+Add+Relu) ran; max error {worst:.2e}")


# --- 4. the hub's detector on real photos ------------------------------------------------


def read_rgb(path: Path) -> Any:
    """A picture file as an H x W x 3 uint8 array, decoded by PyAV (FFmpeg)."""
    import av

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def bundled_models() -> list[Path]:
    return sorted((site_packages() / MODELS_DIR).glob("*.onnx"))


def check_detector(pictures: list[Path], expect_model: bool) -> None:
    models = bundled_models()
    RESULTS["bundled_models"] = [m.name for m in models]
    if not models:
        if expect_model:
            raise ProbeError(
                f"the source tree ships {MODELS_DIR}/*.onnx but the installed wheel has none "
                "(package data missing from pyproject.toml?)"
            )
        log("this wheel bundles no detector model: only the tiny generated model ran")
        return
    by_name = {p.stem: p for p in pictures}
    if "astronaut" not in by_name:
        raise ProbeError("the detector check needs --picture .../astronaut.png")
    import plugins.onnx_detector as onnx_detector

    # The type the hub builds when no detector is configured: the bundled model.
    defaults = [
        (spec, entry)
        for spec in onnx_detector.detector_types()
        if (entry := getattr(spec, "default_entry", None))
    ]
    if not defaults:
        raise ProbeError("the onnx detector plugin offers no default (bundled) detector")
    spec, entry = defaults[0]
    start = time.monotonic()
    detector = spec.create(None, entry, spec.options.model_validate({}))
    loaded = time.monotonic()
    found = {}
    timings = []
    for name, path in sorted(by_name.items()):
        image = read_rgb(path)
        began = time.monotonic()
        [detections] = detector.detect([image])
        timings.append(time.monotonic() - began)
        found[name] = [(d.label, round(d.score, 2), [round(v) for v in d.box]) for d in detections]
        print(f"    {path.name} {image.shape[1]}x{image.shape[0]}: {found[name]}")
    RESULTS["detector"] = {
        "model": [m.name for m in models],
        "load_s": round(loaded - start, 1),
        "detect_s": [round(t, 2) for t in timings],
        "found": found,
    }
    people = [d for d in found["astronaut"] if d[0] == "person" and d[1] >= 0.5]
    if not any(iou(tuple(d[2]), ASTRONAUT_PERSON) >= 0.5 for d in people):
        raise ProbeError(f"the bundled model did not find the astronaut: {found['astronaut']}")
    if "chelsea" in found:
        if not any(d[0] == "cat" and d[1] >= 0.5 for d in found["chelsea"]):
            raise ProbeError(f"the bundled model did not find the cat: {found['chelsea']}")
        if any(d[0] == "person" for d in found["chelsea"]):
            raise ProbeError(f"the bundled model saw a person in the cat photo: {found}")
    log(
        f"bundled model {models[0].name} loaded in {loaded - start:.1f} s; found the person "
        f"and the cat ({', '.join(f'{t:.2f}' for t in timings)} s per photo)"
    )


# --- 5. camhub run ----------------------------------------------------------------------


class Client:
    """HTTP to the hub with a session cookie (once logged in)."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str, timeout: float = 10) -> dict[str, Any] | None:
        try:
            with self.opener.open(self.base + path, timeout=timeout) as response:
                return dict(json.load(response))
        except (OSError, ValueError, urllib.error.URLError):
            return None

    def login(self, username: str, password: str) -> None:
        body = json.dumps({"username": username, "password": password}).encode()
        request = urllib.request.Request(
            self.base + "/api/auth/login", body, {"Content-Type": "application/json"}
        )
        try:
            with self.opener.open(request, timeout=60) as response:
                response.read()
        except (OSError, urllib.error.URLError) as exc:
            raise ProbeError(f"cannot log in to the hub as {username}: {exc}") from exc


def proc_status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def code_cache_kb(pid: int) -> int:
    """RSS of writable+executable anonymous mappings: qemu-user's translated code, not the hub's."""
    total = 0
    writable_code = False
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        fields = line.split()
        if len(fields) >= 5 and "-" in fields[0] and not fields[0].endswith(":"):
            writable_code = fields[1].startswith("rwx") and len(fields) == 5
        elif writable_code and fields and fields[0] == "Rss:":
            total += int(fields[1])
    return total


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def segments(data: Path) -> list[Path]:
    return sorted(p for p in data.rglob("*.mp4") if p.is_file() and p.stat().st_size > 0)


def decode_segment(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def add_admin(camhub: str, data: Path) -> tuple[str, str]:
    """An administrator made with `camhub user add` (password on stdin), for the API."""
    name, password = "arm64-probe", secrets.token_urlsafe(16)
    done = subprocess.run(
        [camhub, "user", "add", name, "--role", "admin", "--data", str(data)],
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise ProbeError(f"camhub user add exited {done.returncode}: {done.stderr.strip()}")
    return name, password


def check_run(camhub: str, data: Path, base: str, seconds: float, expect_detector: bool) -> None:
    shutil.rmtree(data, ignore_errors=True)
    user = add_admin(camhub, data)
    started = time.monotonic()
    with RUN_LOG.open("w") as out:
        hub = subprocess.Popen(
            [camhub, "run", "--data", str(data)], stdout=out, stderr=subprocess.STDOUT
        )
    RESULTS["hub_pid"] = hub.pid
    try:
        client = Client(base)
        polls, failures, last = watch(hub, started, client, user, seconds)
        measure(hub, started, seconds)
        cameras = client.get("/api/cameras") or {}
        RESULTS["cameras"] = cameras.get("cameras")
        found = segments(data)
        RESULTS["segments"] = [str(p.relative_to(data)) for p in found]
        RESULTS["segment_bytes"] = sum(p.stat().st_size for p in found)
        log(f"{len(found)} MP4 segment(s), {RESULTS['segment_bytes']} bytes: {RESULTS['segments']}")
        stop(hub)
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait()
    # Judged only now, so that one run reports every number.
    judge_run(polls, failures, last, cameras, expect_detector)
    judge_footage(data, seconds)


def watch(
    hub: subprocess.Popen[bytes],
    started: float,
    client: Client,
    user: tuple[str, str],
    seconds: float,
) -> tuple[int, int, dict[str, Any] | None]:
    """Poll /api/health every 2 s for `seconds` after its first answer."""
    first_ok: float | None = None
    polls = failures = 0
    last: dict[str, Any] | None = None
    start_limit = max(seconds, 180.0)  # the first import of everything is slow under qemu
    while True:
        now = time.monotonic()
        if hub.poll() is not None:
            tail = RUN_LOG.read_text()[-2000:]
            raise ProbeError(
                f"camhub run exited {hub.returncode} after {now - started:.0f} s:\n" + tail
            )
        if first_ok is None and now - started > start_limit:
            raise ProbeError(f"{client.base}/api/health did not answer within {start_limit:.0f} s")
        if first_ok is not None and now - first_ok >= seconds:
            return polls, failures, last
        answer = client.get("/api/health")
        if first_ok is None:
            # The site answers before the hub has started; "ok" means started.
            if answer is not None and answer.get("status") == "ok":
                first_ok = time.monotonic()
                RESULTS["hub_start_s"] = round(first_ok - started, 1)
                log(f"health answered {RESULTS['hub_start_s']} s after start: {answer}")
                # Signed in, health tells everything (problems, every camera's state).
                client.login(*user)
        else:
            polls += 1
            if answer is None or answer.get("status") != "ok":
                failures += 1
                print(f"    health poll failed at +{now - first_ok:.0f} s: {answer}", flush=True)
            else:
                last = answer
        time.sleep(2)


def measure(hub: subprocess.Popen[bytes], started: float, seconds: float) -> None:
    status = proc_status(hub.pid)
    RESULTS["rss_kb"] = int(status.get("VmRSS", "0 kB").split()[0])
    RESULTS["hwm_kb"] = int(status.get("VmHWM", "0 kB").split()[0])
    RESULTS["threads"] = int(status.get("Threads", "0"))
    RESULTS["qemu_code_cache_kb"] = code_cache_kb(hub.pid)
    RESULTS["hub_cpu_s"] = round(cpu_seconds(hub.pid), 1)
    RESULTS["hub_wall_s"] = round(time.monotonic() - started, 1)
    log(
        f"after {seconds:.0f} s of health: RSS {RESULTS['rss_kb'] / 1024:.0f} MiB "
        f"(peak {RESULTS['hwm_kb'] / 1024:.0f} MiB; of it qemu's code cache "
        f"{RESULTS['qemu_code_cache_kb'] / 1024:.0f} MiB), {RESULTS['threads']} threads, "
        f"CPU {RESULTS['hub_cpu_s']} s in {RESULTS['hub_wall_s']} s wall"
    )


def stop(hub: subprocess.Popen[bytes]) -> None:
    stop_start = time.monotonic()
    hub.send_signal(signal.SIGTERM)
    try:
        code = hub.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise ProbeError("camhub run did not stop within 60 s of SIGTERM") from None
    RESULTS["hub_stop_s"] = round(time.monotonic() - stop_start, 1)
    RESULTS["hub_exit"] = code
    log(f"stopped {RESULTS['hub_stop_s']} s after SIGTERM, exit code {code}")
    output = RUN_LOG.read_text()
    if code != 0 or "camhub: stopped" not in output:
        raise ProbeError(f"camhub run exited {code} on SIGTERM:\n{output[-2000:]}")


def judge_run(
    polls: int,
    failures: int,
    last: dict[str, Any] | None,
    cameras: dict[str, Any],
    expect_detector: bool,
) -> None:
    RESULTS.update(health_polls=polls, health_failures=failures, health_last=last)
    if failures:
        raise ProbeError(f"{failures} of {polls} health polls failed")
    if last is None:
        raise ProbeError("no health answer after the first")
    if last.get("plugins_failed") or last.get("problems"):
        raise ProbeError(f"plugins failed or problems: {last}")
    listed = cameras.get("cameras") or []
    if not listed or any(camera.get("state") != "online" for camera in listed):
        raise ProbeError(f"a camera is not online: {listed}")
    for camera in listed:
        objects = camera.get("objects")
        # The camera's detector (the bundled model) is built and its loop runs.
        if expect_detector and (not isinstance(objects, dict) or objects.get("state") != "active"):
            raise ProbeError(f"camera {camera.get('id')}: object detection not active: {objects}")
    log(f"{polls} health polls, none failed; cameras online: {[c.get('id') for c in listed]}")


def judge_footage(data: Path, seconds: float) -> None:
    # A segment closed while stopping counts: it was recorded under emulation all the same.
    found = segments(data)
    if not found:
        output = RUN_LOG.read_text()
        raise ProbeError(f"no MP4 segment under {data} after {seconds:.0f} s:\n{output[-2000:]}")
    with found[0].open("rb") as f:
        head = f.read(12)
    if head[4:8] != b"ftyp":
        raise ProbeError(f"{found[0]} is not an MP4 file (starts {head!r})")
    frames = decode_segment(found[0])
    RESULTS["decoded_frames"] = frames
    if frames == 0:
        raise ProbeError(f"{found[0]}: PyAV decoded no frame")
    log(f"PyAV decoded {frames} frames of {found[0].relative_to(data)}")


# --- main -------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    bindir = Path(sys.executable).parent
    parser.add_argument("--camhub", default=str(bindir / "camhub"), help="the camhub script")
    parser.add_argument("--config-example", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("/tmp/camhub-arm64-data"))
    parser.add_argument("--url", default="http://127.0.0.1:8470", help="where the hub answers")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the hub runs")
    parser.add_argument(
        "--picture", type=Path, action="append", default=[], help="astronaut.png, chelsea.png"
    )
    parser.add_argument(
        "--expect-model", action="store_true", help="fail when the wheel bundles no model"
    )
    parser.add_argument("--json", type=Path, help="write the numbers here")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["wheels", "config", "onnx", "run"]
    )
    args = parser.parse_args()
    steps: list[tuple[str, Callable[[], None]]] = [
        ("wheels", check_wheels),
        ("config", lambda: check_config(args.camhub, args.config_example)),
        ("onnx", check_onnxruntime),
        ("onnx", lambda: check_detector(args.picture, args.expect_model)),
        (
            "run",
            lambda: check_run(
                args.camhub, args.data, args.url, args.seconds, bool(bundled_models())
            ),
        ),
    ]
    try:
        for name, step in steps:
            if name not in args.skip:
                try:
                    step()
                except ProbeError:
                    raise
                except Exception as exc:  # an import or a library failing under emulation
                    traceback.print_exc()
                    raise ProbeError(f"{name} check: {type(exc).__name__}: {exc}") from exc
    except ProbeError as exc:
        print(f"arm64 probe: FAIL: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if args.json:
            args.json.write_text(json.dumps(RESULTS, indent=2) + "\n")
    log("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
