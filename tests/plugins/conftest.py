"""Fixtures shared by plugin tests."""

from __future__ import annotations

import pytest

import plugins.onnx_detector as onnx_detector
from plugins.onnx_detector import OnnxDetector, OnnxDetectorOptions


@pytest.fixture(scope="session")
def bundled_detector() -> OnnxDetector:
    """The bundled model with the options the hub gives it when no detector is configured."""
    (spec,) = onnx_detector.detector_types()
    built = spec.create(None, "coco", OnnxDetectorOptions())
    assert isinstance(built, OnnxDetector)
    return built
