"""The COCO model shipped with camhub: where it is, its pinned SHA-256, and its labels.

SSD MobileNetV3-Large (320x320, COCO, Apache-2.0; see models/NOTICE.md), converted
once from TensorFlow by scripts/convert_coco_model.py. It is checked against its
pinned hash when a detector loads it, so a damaged install is named at start-up
instead of detecting nonsense.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

from hub import DetectorError

MODELS_DIR = Path(__file__).resolve().parent / "models"
MODEL_PATH = MODELS_DIR / "ssd_mobilenet_v3_large_coco.onnx"
LABELS_PATH = MODELS_DIR / "ssd_mobilenet_v3_large_coco.labels.txt"
MODEL_SHA256 = "7daee591f4419e72ada575d097a2571cac9a16430833881d65df7980522f814c"
LABELS_SHA256 = "f8803ef7900160c629d570848dfda4175e21667bf7b71f73f8ece4938c9f2bf2"
DESCRIPTION = "SSD MobileNetV3-Large 320, COCO (bundled)"
INPUT_RANGE: Final = "-1..1"
"""The model was trained on RGB scaled as x / 127.5 - 1."""


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def checked(path: Path, expected: str, what: str) -> Path:
    """`path` if it exists and has the pinned hash; else a DetectorError naming the file."""
    try:
        actual = sha256_of(path)
    except OSError as exc:
        raise DetectorError(
            f"the bundled {what} {path} cannot be read ({exc.strerror or exc}); reinstall camhub"
        ) from exc
    if actual != expected:
        raise DetectorError(
            f"the bundled {what} {path} is damaged (sha256 {actual[:12]}..., expected "
            f"{expected[:12]}...); reinstall camhub"
        )
    return path


def model_path() -> Path:
    """The bundled model file, checked."""
    return checked(MODEL_PATH, MODEL_SHA256, "model")


def labels() -> tuple[str, ...]:
    """The 90 COCO names, line k = class k - 1 = score column k; `???` for unused ids."""
    text = checked(LABELS_PATH, LABELS_SHA256, "labels file").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())
