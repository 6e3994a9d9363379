"""The layout rules of DESIGN.md, checked on the source: hub knows no codec, detector,
notifier or HTTP; plugins import hub, never each other; web talks to the Hub only."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

# Libraries that are someone else's business than the core's.
NOT_IN_CORE = ("av", "aiohttp", "onnxruntime", "onnx", "cv2", "web", "plugins")


def imports(path: Path) -> set[str]:
    """Top-level names of every module a file imports (lazy imports inside functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_core_imports_no_codec_detector_notifier_or_http():
    offending = {
        f"{path.relative_to(REPO)}: {name}"
        for path in (REPO / "hub").rglob("*.py")
        for name in imports(path)
        if name.split(".")[0] in NOT_IN_CORE
    }
    assert offending == set()


def test_plugins_import_the_hub_never_each_other():
    offending = set()
    for package in (REPO / "plugins").iterdir():
        if not (package / "__init__.py").exists():
            continue
        for path in package.rglob("*.py"):
            for name in imports(path):
                parts = name.split(".")
                if parts[0] == "plugins" and len(parts) > 1 and parts[1] != package.name:
                    offending.add(f"{path.relative_to(REPO)}: {name}")
    assert offending == set()


def test_web_reaches_no_plugin():
    offending = {
        f"{path.relative_to(REPO)}: {name}"
        for path in (REPO / "web").rglob("*.py")
        for name in imports(path)
        if name.split(".")[0] == "plugins"
    }
    assert offending == set()
