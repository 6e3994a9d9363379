"""The layout rules of DESIGN.md, checked on the source: hub knows no codec, detector,
notifier or HTTP; plugins import the public API `hub` only, never each other; web talks
to the Hub only. String imports (`importlib.import_module("x")`, the built-in plugin
list) are read as imports too, so none slips past."""

from __future__ import annotations

import ast
from pathlib import Path

import hub
from hub.extensions.manager import BUILTIN_PLUGINS
from tests.conftest import REPO

# Libraries that are someone else's business than the core's.
NOT_IN_CORE = ("av", "aiohttp", "onnxruntime", "onnx", "cv2", "web", "plugins")
# The composition root: `camhub run` adds the web layer to the hub, lazily.
COMPOSITION_ROOT = {("hub/cli/commands.py", "web")}


def imports(path: Path) -> set[str]:
    """Every module a file imports: statements (lazy ones too) and string imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def _plugin_packages() -> list[Path]:
    return sorted(p for p in (REPO / "plugins").iterdir() if (p / "__init__.py").exists())


def test_the_core_imports_no_codec_detector_notifier_or_http():
    offending = {
        f"{path.relative_to(REPO)}: {name}"
        for path in (REPO / "hub").rglob("*.py")
        for name in imports(path)
        if name.split(".")[0] in NOT_IN_CORE
        and (str(path.relative_to(REPO)), name.split(".")[0]) not in COMPOSITION_ROOT
    }
    assert offending == set()


def test_the_core_never_imports_its_own_public_api():
    # hub/__init__.py imports every room; a room importing `hub` back would be a cycle.
    offending = set()
    for path in (REPO / "hub").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "hub" and node.level == 0:
                names = {alias.name for alias in node.names}
                if names - {"hookspecs"}:
                    offending.add(f"{path.relative_to(REPO)}: from hub import {sorted(names)}")
    assert offending == set()


def test_plugins_import_the_public_api_only_never_each_other():
    offending = set()
    for package in _plugin_packages():
        for path in package.rglob("*.py"):
            for name in imports(path):
                parts = name.split(".")
                if parts[0] == "plugins" and (len(parts) == 1 or parts[1] != package.name):
                    offending.add(f"{path.relative_to(REPO)}: {name}")
                if parts[0] == "hub" and len(parts) > 1:
                    offending.add(f"{path.relative_to(REPO)}: {name} (import from `hub`)")
    assert offending == set()


def test_the_public_api_exports_what_it_lists():
    assert sorted(hub.__all__) == sorted(set(hub.__all__))
    assert [name for name in hub.__all__ if not hasattr(hub, name)] == []


def test_the_builtin_list_and_the_plugins_folder_agree():
    listed = {name.split(".", 1)[1] for name in BUILTIN_PLUGINS}
    assert all(name.startswith("plugins.") for name in BUILTIN_PLUGINS)
    assert listed == {package.name for package in _plugin_packages()}


def test_web_reaches_no_plugin():
    offending = {
        f"{path.relative_to(REPO)}: {name}"
        for path in (REPO / "web").rglob("*.py")
        for name in imports(path)
        if name.split(".")[0] == "plugins"
    }
    assert offending == set()


def test_the_import_reader_sees_string_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('import importlib\nimportlib.import_module("web.server")\n')
    assert "web.server" in imports(sample)
