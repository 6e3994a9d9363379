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
HookSpec = Callable[..., Any]
"""A hook's spec function in `hub.hookspecs`, e.g. `hookspecs.startup`."""
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


class GuardedPlugin:
    """A loaded plugin as pluggy sees it: guarded hook implementations as attributes."""

    def __init__(self, plugin: object):
        self.plugin = plugin


class PluginManager:
    """pluggy's manager plus loading from three sources and per-plugin failure isolation."""

    def __init__(self, on_failed: Callable[[PluginInfo], None] | None = None):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.on_failed = on_failed

    @property
    def hook(self) -> Any:
        """pluggy's hook relay (calls bypass the contract checks: prefer the call methods)."""
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
            guarded = self._guarded(plugin, info)
            self.pm.register(guarded, name=name)
        except Exception as exc:
            info.state = "error"
            info.error = f"{type(exc).__name__}: {exc}"
            _LOGGER.error("Plugin %s failed to load: %s", name, info.error)
            return
        info.hooks = [caller.name for caller in self.pm.get_hookcallers(guarded) or []]
        for old in set(info.hooks) & set(hookspecs.DEPRECATED_NAMES):
            _LOGGER.warning(
                "Plugin %s implements %s, a deprecated hook name: rename it to %s",
                name,
                old,
                hookspecs.DEPRECATED_NAMES[old],
            )

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

    def _guarded(self, plugin: object, info: PluginInfo) -> GuardedPlugin:
        """What pluggy registers: the plugin's hook implementations, each wrapped for isolation.

        pluggy reads a plugin's hooks from its attributes, so a plugin object whose
        attributes are guarded copies is registered instead of the module itself;
        pluggy's own calling (firstresult, wrappers, monitoring) stays untouched.
        """
        guarded = GuardedPlugin(plugin)
        marker = f"{hookspecs.PROJECT}_impl"
        for attribute in dir(plugin):
            options = self.pm.parse_hookimpl_opts(plugin, attribute)
            if options is None:
                continue
            function = getattr(plugin, attribute)
            if not (options.get("wrapper") or options.get("hookwrapper")):
                function = self._guard(info, options.get("specname") or attribute, function)
                setattr(function, marker, options)
            setattr(guarded, attribute, function)
        return guarded

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

    def _name(self, spec: HookSpec, calling: hookspecs.Calling) -> str:
        """The hook's name, once its contract says it is called this way."""
        contract = hookspecs.contract_of(spec)
        if contract.calling != calling:
            raise TypeError(f"hook {spec.__name__} is called {contract.calling!r}, not {calling!r}")
        return spec.__name__

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
        self, spec: HookSpec, time_limit: float | None = None, **kwargs: Any
    ) -> list[Any]:
        """Call a `concurrent` hook; awaitable answers run concurrently; None answers are dropped.

        With `time_limit`, each implementation gets that long, and one that overruns
        counts as a failure of its plugin. Results keep pluggy's order.
        """
        hook_name = self._name(spec, "concurrent")
        answers = self._answers(hook_name, kwargs)
        settled = await asyncio.gather(
            *(self._settle(info, hook_name, answer, time_limit) for info, answer in answers)
        )
        return [result for result in settled if result is not None]

    async def async_call_first(self, spec: HookSpec, **kwargs: Any) -> Any:
        """Call a `first` hook: the first non-None (awaited) answer.

        Implementations are tried one at a time, so one that declines (returns None,
        even after awaiting) or fails hands over to the next.
        """
        hook_name = self._name(spec, "first")
        if not hookspecs.contract_of(spec).may_await:
            return self.call_first(spec, **kwargs)
        for info, impl in self._implementations(hook_name):
            answer = impl.function(*[kwargs[name] for name in impl.argnames])
            result = await self._settle(info, hook_name, answer, None)
            if result is not None:
                return result
        return None

    def call_first(self, spec: HookSpec, **kwargs: Any) -> Any:
        """Call a synchronous `first` hook (no `async def`): the first non-None answer."""
        hook_name = self._name(spec, "first")
        for info, impl in self._implementations(hook_name):
            answer = impl.function(*[kwargs[name] for name in impl.argnames])
            if answer is None:
                continue
            if inspect.isawaitable(answer):
                if inspect.iscoroutine(answer):
                    answer.close()  # never awaited: close it so Python does not warn
                self._failed(info, hook_name, TypeError("must not be async"))
                continue
            return answer
        return None

    def call_collect(self, spec: HookSpec, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a `collect` hook (plain `def`, returns a list); (plugin name, item) pairs."""
        hook_name = self._name(spec, "collect")
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
