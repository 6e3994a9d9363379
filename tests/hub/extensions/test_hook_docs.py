"""Every hook is documented in docs/plugins.md and tested; the plugin template loads and works."""

from __future__ import annotations

import inspect
import re
import shutil
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from hub import hookspecs
from hub.extensions.manager import PluginManager
from hub.notify.message import Message

REPO = Path(__file__).resolve().parents[3]
DOCS = REPO / "docs" / "plugins.md"
HOOK_TESTS = REPO / "tests" / "hub" / "hooks"
TEMPLATE = REPO / "docs" / "plugin_template"
SPEC_MARKER = f"{hookspecs.PROJECT}_spec"


def _hookspecs() -> dict[str, Callable[..., Any]]:
    return {
        name: value
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, SPEC_MARKER)
    }


HOOKS = _hookspecs()


def _signature(function: Callable[..., Any]) -> str:
    """`def name(a: A, b: B) -> R`, with the annotations exactly as written in hookspecs.py."""
    sig = inspect.signature(function)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {function.__name__}({params}) -> {sig.return_annotation}"


def _hook_sections() -> dict[str, str]:
    """`### name` sections of the "Hook reference" chapter, by name."""
    text = DOCS.read_text(encoding="utf-8")
    _, found, reference = text.partition("\n## Hook reference\n")
    assert found, "docs/plugins.md has no '## Hook reference' chapter"
    reference = reference.split("\n## ", 1)[0]
    sections: dict[str, str] = {}
    for chunk in re.split(r"^### ", reference, flags=re.MULTILINE)[1:]:
        heading, _, body = chunk.partition("\n")
        sections[heading.strip()] = body
    return sections


def _python_blocks(markdown: str) -> Iterator[str]:
    yield from re.findall(r"^```python\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)


SECTIONS = _hook_sections()


def test_the_hookspecs_are_found():
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    relay = {name for name, caller in vars(manager.hook).items() if caller.spec is not None}
    assert set(HOOKS) == relay
    assert {"startup", "shutdown", "camera_source", "web_routes"} <= set(HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_documented_with_its_exact_signature(name):
    assert name in SECTIONS, f"docs/plugins.md has no '### {name}' in its Hook reference"
    section = SECTIONS[name]
    for parameter in inspect.signature(HOOKS[name]).parameters:
        assert re.search(rf"\b{parameter}\b", section), f"{name}: parameter {parameter} missing"
    assert _signature(HOOKS[name]) in section, f"{name}: signature differs from hookspecs.py"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_says_whether_it_is_firstresult(name):
    is_first = bool(getattr(HOOKS[name], SPEC_MARKER).get("firstresult"))
    said = re.findall(r"firstresult:\s*\**(yes|no)\b", SECTIONS.get(name, ""))
    assert said == ["yes" if is_first else "no"], f"{name}: firstresult line wrong or missing"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_says_how_it_is_called_as_its_contract_does(name):
    contract = hookspecs.contract_of(HOOKS[name])
    section = SECTIONS.get(name, "")
    assert re.findall(r"^- Implementations: (\w+)$", section, flags=re.MULTILINE) == [
        contract.calling
    ], f"{name}: 'Implementations:' line wrong or missing"
    assert re.findall(r"^- async def: (yes|no)$", section, flags=re.MULTILINE) == [
        "yes" if contract.may_await else "no"
    ], f"{name}: 'async def:' line wrong or missing"
    assert contract.firstresult == bool(getattr(HOOKS[name], SPEC_MARKER).get("firstresult"))


def test_the_sync_or_async_chapter_lists_each_hook_under_its_calling():
    text = DOCS.read_text(encoding="utf-8")
    chapter = text.split("### Sync or async, and in what order\n", 1)[1].split("\n### ", 1)[0]
    for calling in ("concurrent", "first", "collect"):
        paragraph = chapter.split(f"`Implementations: {calling}`", 1)[1].split("\n- ", 1)[0]
        listed = set(re.findall(r"`(\w+)`", paragraph))
        expected = {
            name
            for name, spec in HOOKS.items()
            if hookspecs.contract_of(spec).calling == calling
            and name not in hookspecs.DEPRECATED_NAMES
        }
        assert listed & set(HOOKS) == expected, calling


def test_the_reference_documents_only_hooks_that_exist():
    assert set(SECTIONS) - set(HOOKS) == set()


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_test_file_of_its_own(name):
    path = HOOK_TESTS / f"test_hook_{name}.py"
    assert path.is_file(), f"no tests/hub/hooks/test_hook_{name}.py"
    text = path.read_text(encoding="utf-8")
    assert name in text
    assert re.search(r"^(async )?def test_", text, flags=re.MULTILINE), f"{path.name}: no tests"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_example_loads_as_a_file_plugin(name, tmp_path):
    examples = [b for b in _python_blocks(SECTIONS.get(name, "")) if "@hookimpl" in b]
    assert examples, f"{name}: no example plugin (a python block using @hookimpl)"
    folder = tmp_path / "plugins"
    folder.mkdir()
    for index, example in enumerate(examples):
        (folder / f"example_{name}_{index}.py").write_text(example, encoding="utf-8")
    manager = PluginManager()
    try:
        manager.load_directory(folder)
        manager.check_pending()
        for info in manager.list_plugins():
            assert (info.state, info.error) == ("active", None), info.name
            assert name in info.hooks, f"{info.name} does not implement {name}"
    finally:
        for index in range(len(examples)):
            sys.modules.pop(f"camhub_local_plugins.example_{name}_{index}", None)


# ---------------------------------------------------------------- plugin template


def test_the_template_declares_its_entry_point():
    project = tomllib.loads((TEMPLATE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"]["camhub"] == {"hello": "camhub_hello"}
    assert (TEMPLATE / "camhub_hello" / "__init__.py").is_file()
    assert (TEMPLATE / "README.md").is_file()


@pytest.fixture
def template_dir(tmp_path: Path) -> Iterator[Path]:
    """A plugins_dir holding a copy of the template module as `hello.py`."""
    folder = tmp_path / "local_plugins"
    folder.mkdir()
    shutil.copy(TEMPLATE / "camhub_hello" / "__init__.py", folder / "hello.py")
    yield folder
    sys.modules.pop("camhub_local_plugins.hello", None)


def test_the_template_loads_as_a_file_plugin(template_dir):
    manager = PluginManager()
    manager.load_directory(template_dir)
    manager.check_pending()
    info = manager.infos["hello"]
    assert (info.state, info.error) == ("active", None)
    assert info.source == "file"
    assert info.version == "0.1.0"
    assert sorted(info.hooks) == ["notifier_types", "startup"]


async def test_the_template_notifier_works_in_a_hub(make_hub, template_dir, caplog):
    hub = make_hub(
        "notifiers:\n"
        "  greeter:\n"
        "    type: hello\n"
        "    greeting: Hi there\n"
        "  typo:\n"
        "    type: hello\n"
        "    greting: Oops\n"
    )
    hub.plugins.load_directory(template_dir)
    caplog.set_level("INFO")
    await hub.async_start()
    try:
        assert "hello notifiers: ['greeter']" in caplog.text  # startup ran with the hub
        greeter = hub.notifiers["greeter"]
        await greeter.async_send(Message(title="Front door", body="someone is there"))
        assert [m.title for m in greeter.sent] == ["Front door"]
        assert "Hi there [greeter] Front door: someone is there" in caplog.text
        assert "typo" not in hub.notifiers
        assert any(p.startswith("config.yaml:7: notifiers.typo.greting") for p in hub.problems)
    finally:
        await hub.async_stop()
