"""`detector_types`: config entries of a plugin's type become objects in `hub.detectors`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hub.core import check_plugin_sections
from hub.extensions.registry import PluginOptions, TypeSpec
from hub.hookspecs import hookimpl


class BlobOptions(PluginOptions):
    threshold: float = Field(0.5, ge=0, le=1, description="Minimum score.")
    labels: list[str] = Field(default_factory=lambda: ["person"], description="Labels kept.")


class BlobDetector:
    def __init__(self, hub: Any, detector_id: str, options: BlobOptions):
        self.hub = hub
        self.detector_id = detector_id
        self.options = options


class BlobPlugin:
    @hookimpl
    def detector_types(self) -> list[TypeSpec]:
        return [
            TypeSpec(name="blob", options=BlobOptions, create=BlobDetector, description="Blobs."),
            TypeSpec(name="broken", options=PluginOptions, create=_explode),
        ]


def _explode(hub: Any, detector_id: str, options: PluginOptions) -> None:
    raise RuntimeError("model file missing")


CONFIG = """\
detectors:
  porch:
    type: blob
    threshold: 0.8
  garden:
    type: blob
  hall:
    type: tflite
  yard:
    type: blob
    treshold: 0.3
  attic:
    type: broken
"""


async def test_detector_entries_are_built_and_bad_ones_reported_with_their_line(make_hub):
    hub = make_hub(CONFIG)
    hub.plugins.register(BlobPlugin(), "blobs")
    await hub.async_start()
    try:
        assert sorted(hub.detectors) == ["garden", "porch"]
        porch = hub.detectors["porch"]
        assert isinstance(porch, BlobDetector)
        assert porch.hub is hub
        assert porch.detector_id == "porch"
        assert porch.options == BlobOptions(threshold=0.8)
        assert hub.detectors["garden"].options.threshold == 0.5
        assert hub.detector_types["blob"].plugin == "blobs"
        assert hub.detector_types["blob"].description == "Blobs."

        problems = "\n".join(hub.problems)
        assert "config.yaml:8: detectors.hall.type: unknown detector type 'tflite'" in problems
        assert "(known: blob, broken, deepstack, kserve, onnx)" in problems
        assert "config.yaml:11: detectors.yard.treshold: unknown key" in problems
        assert "did you mean 'threshold'" in problems
        assert "detectors.attic: could not start: model file missing" in problems
        assert hub.running  # bad detectors do not stop the hub
    finally:
        await hub.async_stop()


async def test_check_config_sees_the_same_problems_without_starting_a_hub(make_hub):
    hub = make_hub(CONFIG)
    hub.plugins.register(BlobPlugin(), "blobs")
    issues = [str(i) for i in check_plugin_sections(hub.loaded, hub.plugins)]
    assert any(i.startswith("config.yaml:8: detectors.hall.type") for i in issues)
    assert any(i.startswith("config.yaml:11: detectors.yard.treshold") for i in issues)


async def test_a_detector_types_hook_that_raises_offers_nothing(make_hub):
    class Broken:
        @hookimpl
        def detector_types(self) -> list[TypeSpec]:
            raise ImportError("onnxruntime is not installed")

    hub = make_hub("detectors:\n  porch:\n    type: blob\n")
    hub.plugins.register(BlobPlugin(), "blobs")
    hub.plugins.register(Broken(), "broken_detectors")
    await hub.async_start()
    try:
        assert list(hub.detectors) == ["porch"]
        assert hub.plugins.infos["broken_detectors"].failures == 1
    finally:
        await hub.async_stop()
