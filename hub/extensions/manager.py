"""Plugin manager: loads built-in, entry-point and local plugins, and isolates their failures."""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import pluggy

from hub import hookspecs

_LOGGER = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "camhub"
DISABLE_AUTOLOAD_ENV = "CAMHUB_DISABLE_PLUGIN_AUTOLOAD"
MAX_CONSECUTIVE_FAILURES = 3

# Built-in plugins, each an ordinary plugin module, in load order.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "plugins.log_notifier",
    "plugins.panel_notifier",
    "plugins.pyav_source",
    "plugins.face_blur",
    "plugins.motion",
    "plugins.remote_detector",
    "plugins.onnx_detector",
    "plugins.webhook_notifier",
    "plugins.ntfy_notifier",
    "plugins.mqtt",
    "plugins.email_notifier",
    "plugins.automation_http",
    "plugins.discovery",
    "plugins.onvif",
)

PluginSource = Literal["builtin", "entrypoint", "file"]
PluginState = Literal["active", "failed", "error", "disabled"]


@dataclass
class PluginInfo:
    """What `camhub plugins` and `/api/plugins` show about one plugin."""

    name: str
    source: PluginSource
    version: str | None = None
    state: PluginState = "active"
    error: str | None = None
    failures: int = 0
    consecutive_failures: int = 0
    last_failure: float | None = None
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "source": self.source,
            "version": self.version,
            "state": self.state,
            "error": self.error,
            "failures": self.failures,
            "hooks": sorted(self.hooks),
        }


class PluginManager:
    """pluggy's manager plus loading from three sources and per-plugin failure isolation."""

    def __init__(self, on_failed: Callable[[PluginInfo], None] | None = None):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.on_failed = on_failed

    @property
    def hook(self) -> Any:
        """The hook relay: `manager.hook.startup(hub=hub)`."""
        return self.pm.hook

    # ---------------------------------------------------------- loading

    def load_all(self, plugins_dir: Path | None = None, disabled: tuple[str, ...] = ()) -> None:
        """Built-ins, then entry points (unless switched off), then local files; then check."""
        for module_name in BUILTIN_PLUGINS:
            name = module_name.rsplit(".", 1)[-1]
            loader = functools.partial(importlib.import_module, module_name)
            self._load(name, "builtin", loader, disabled)
        if os.environ.get(DISABLE_AUTOLOAD_ENV, "") not in ("", "0"):
            _LOGGER.debug("Entry-point plugins not loaded (%s is set)", DISABLE_AUTOLOAD_ENV)
        else:
            for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                version = entry_point.dist.version if entry_point.dist else None
                self._load(entry_point.name, "entrypoint", entry_point.load, disabled, version)
        if plugins_dir is not None:
            self.load_directory(plugins_dir, disabled)
        self.check_pending()

    def load_directory(self, directory: Path, disabled: tuple[str, ...] = ()) -> None:
        """Load every `*.py` file of a folder as a plugin named after the file."""
        if not directory.is_dir():
            _LOGGER.error("plugins_dir %s is not a directory; no local plugins loaded", directory)
            return
        for path in sorted(directory.glob("*.py")):
            if path.name.startswith("_"):
                continue
            self._load(path.stem, "file", functools.partial(_import_file, path), disabled)

    def register(self, plugin: object, name: str, source: PluginSource = "builtin") -> None:
        """Register an already imported plugin object (tests and embedding use this)."""
        self._load(name, source, lambda: plugin, ())

    def _load(
        self,
        name: str,
        source: PluginSource,
        loader: Callable[[], Any],
        disabled: tuple[str, ...],
        version: str | None = None,
    ) -> None:
        info = PluginInfo(name=name, source=source, version=version)
        if name in self.infos:
            _LOGGER.error("Plugin %s (%s) skipped: a plugin of that name is loaded", name, source)
            return
        self.infos[name] = info
        if name in disabled:
            info.state = "disabled"
            return
        try:
            plugin = loader()
            if info.version is None:
                info.version = getattr(plugin, "__version__", None)
            self.pm.register(plugin, name=name)
        except Exception as exc:
            info.state = "error"
            info.error = f"{type(exc).__name__}: {exc}"
            _LOGGER.error("Plugin %s failed to load: %s", name, info.error)
            return
        info.hooks = [caller.name for caller in self.pm.get_hookcallers(plugin) or []]
        self._guard_hooks(plugin, info)

    def check_pending(self) -> None:
        """Unload plugins that implement hooks no spec defines (a misspelt hook name)."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            plugin = exc.plugin
            name = self.pm.get_name(plugin) or repr(plugin)
            info = self.infos[name]
            info.state, info.error = "error", str(exc)
            _LOGGER.error("Plugin %s not loaded: %s", name, exc)
            self.pm.unregister(plugin)
            self.check_pending()

    # ---------------------------------------------------------- isolation

    def _guard_hooks(self, plugin: object, info: PluginInfo) -> None:
        for caller in self.pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.hookwrapper or impl.wrapper):
                    # pluggy calls impl.function; swapping it is how each plugin gets isolated.
                    impl.function = self._guard(info, caller.name, impl.function)  # type: ignore[misc]

    def _guard(self, info: PluginInfo, hook_name: str, function: Callable[..., Any]) -> Any:
        manager = self

        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if info.state != "active":
                return None
            try:
                result = function(*args, **kwargs)
            except Exception as exc:
                manager._failed(info, hook_name, exc)
                return None
            if inspect.isawaitable(result):
                return manager._guard_awaitable(info, hook_name, result)
            manager._succeeded(info)
            return result

        return guarded

    async def _guard_awaitable(self, info: PluginInfo, hook_name: str, aw: Awaitable[Any]) -> Any:
        try:
            result = await aw
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(info, hook_name, exc)
            return None
        self._succeeded(info)
        return result

    @staticmethod
    def _succeeded(info: PluginInfo) -> None:
        info.consecutive_failures = 0

    def _failed(self, info: PluginInfo, hook_name: str, exc: BaseException) -> None:
        info.failures += 1
        info.consecutive_failures += 1
        info.last_failure = time.time()
        info.error = f"{hook_name}: {type(exc).__name__}: {exc}"
        _LOGGER.error(
            "Plugin %s failed in hook %s (%d in a row)",
            info.name,
            hook_name,
            info.consecutive_failures,
            exc_info=exc,
        )
        if info.consecutive_failures >= MAX_CONSECUTIVE_FAILURES and info.state == "active":
            info.state = "failed"
            _LOGGER.error(
                "Plugin %s disabled after %d failures in a row", info.name, MAX_CONSECUTIVE_FAILURES
            )
            if self.on_failed is not None:
                self.on_failed(info)

    # ---------------------------------------------------------- calling

    def _implementations(self, hook_name: str) -> list[tuple[PluginInfo, Any]]:
        """(plugin, impl) for each ordinary implementation, in pluggy's call order."""
        caller = getattr(self.pm.hook, hook_name)
        return [
            (self.infos[impl.plugin_name], impl)
            for impl in reversed(caller.get_hookimpls())
            if not (impl.hookwrapper or impl.wrapper)
        ]

    def _answers(self, hook_name: str, kwargs: dict[str, Any]) -> list[tuple[PluginInfo, Any]]:
        """Call each implementation of a hook, keeping who answered what (None dropped)."""
        answers = []
        for info, impl in self._implementations(hook_name):
            answer = impl.function(*[kwargs[name] for name in impl.argnames])
            if answer is not None:
                answers.append((info, answer))
        return answers

    async def _settle(
        self, info: PluginInfo, hook_name: str, answer: Any, time_limit: float | None
    ) -> Any:
        """Await an answer if it is awaitable; an overrun counts as a failure of its plugin."""
        if not inspect.isawaitable(answer):
            return answer
        try:
            return await asyncio.wait_for(_as_coroutine(answer), time_limit)
        except TimeoutError:
            self._failed(info, hook_name, TimeoutError(f"no answer within {time_limit} s"))
            return None

    async def async_call(
        self, hook_name: str, time_limit: float | None = None, **kwargs: Any
    ) -> list[Any]:
        """Call a hook; awaitable answers run concurrently; None answers are dropped.

        With `time_limit`, each implementation gets that long, and one that overruns
        counts as a failure of its plugin. Results keep pluggy's order.
        """
        answers = self._answers(hook_name, kwargs)
        settled = await asyncio.gather(
            *(self._settle(info, hook_name, answer, time_limit) for info, answer in answers)
        )
        return [result for result in settled if result is not None]

    async def async_call_first(self, hook_name: str, **kwargs: Any) -> Any:
        """A `firstresult` hook for async implementations: the first non-None awaited answer.

        Implementations are tried one at a time, so one that declines (returns None,
        even after awaiting) or fails hands over to the next.
        """
        for info, impl in self._implementations(hook_name):
            answer = impl.function(*[kwargs[name] for name in impl.argnames])
            result = await self._settle(info, hook_name, answer, None)
            if result is not None:
                return result
        return None

    def call_collect(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a synchronous list-returning hook; returns (plugin name, item) pairs."""
        pairs: list[tuple[str, Any]] = []
        for info, answer in self._answers(hook_name, kwargs):
            if inspect.isawaitable(answer):
                if inspect.iscoroutine(answer):
                    answer.close()  # never awaited: close it so Python does not warn
                self._failed(info, hook_name, TypeError("must return a list, not an awaitable"))
                continue
            try:
                pairs.extend((info.name, item) for item in answer)
            except TypeError as exc:
                self._failed(info, hook_name, TypeError(f"must return a list ({exc})"))
        return pairs

    def list_plugins(self) -> list[PluginInfo]:
        """Every plugin seen, loaded or not, by name."""
        return sorted(self.infos.values(), key=lambda info: info.name)


async def _as_coroutine(aw: Awaitable[Any]) -> Any:
    return await aw


def _import_file(path: Path) -> ModuleType:
    module_name = f"camhub_local_plugins.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
