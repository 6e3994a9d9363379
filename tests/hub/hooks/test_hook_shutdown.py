"""`shutdown`: awaited once at stop, after cameras stopped and while the database still works."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hub.core import PLUGIN_SHUTDOWN_SECONDS
from hub.hookspecs import hookimpl

ONE_CAMERA = "plugins:\n  disabled: [pyav_source]\ncameras:\n  front:\n    url: demo://\n"


class Timeline:
    """A camera source and a shutdown hook that write what happened, in order, to one list."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.written: list[int] = []

    @hookimpl
    def camera_source(self, hub: Any, camera_id: str, config: Any) -> Any:
        steps = self.steps

        class Source:
            async def async_run(self) -> None:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    steps.append("camera cancelled")
                    raise

        return Source()

    @hookimpl
    async def shutdown(self, hub: Any) -> None:
        self.steps.append("shutdown")
        await hub.storage.async_write(lambda db: db.table("shutdown_probe").insert({"n": 1}))
        count = await hub.storage.async_read(lambda db: db.table("shutdown_probe").count)
        self.written.append(count)


async def test_shutdown_runs_once_at_stop_after_cameras_and_before_the_database_closes(make_hub):
    hub = make_hub(ONE_CAMERA)
    plugin = Timeline()
    hub.plugins.register(plugin, "timeline")
    await hub.async_start()
    await hub.async_block_till_done()
    assert plugin.steps == []

    await hub.async_stop()

    assert plugin.steps == ["camera cancelled", "shutdown"]
    assert plugin.written == [1]
    assert hub.plugins.infos["timeline"].failures == 0


async def test_hub_tasks_are_still_running_during_shutdown_and_cancelled_after(make_hub):
    seen: dict[str, bool] = {}

    class Worker:
        task: asyncio.Task[None] | None = None

        @hookimpl
        def startup(self, hub: Any) -> None:
            self.task = hub.async_create_background_task(asyncio.Event().wait(), name="worker")

        @hookimpl
        def shutdown(self, hub: Any) -> None:
            assert self.task is not None
            seen["done_during_shutdown"] = self.task.done()

    hub = make_hub()
    worker = Worker()
    hub.plugins.register(worker, "worker")
    await hub.async_start()
    await hub.async_stop()
    assert seen == {"done_during_shutdown": False}
    assert worker.task is not None and worker.task.cancelled()


async def test_a_shutdown_that_hangs_is_cut_off_and_the_hub_stops_within_five_seconds(make_hub):
    ran: list[str] = []

    class Hangs:
        @hookimpl
        async def shutdown(self, hub: Any) -> None:
            await asyncio.Event().wait()

    class Polite:
        @hookimpl
        def shutdown(self, hub: Any) -> None:
            ran.append("polite")

    hub = make_hub()
    hub.plugins.register(Polite(), "polite")
    hub.plugins.register(Hangs(), "hangs")
    await hub.async_start()
    began = time.monotonic()
    await hub.async_stop()
    took = time.monotonic() - began

    assert PLUGIN_SHUTDOWN_SECONDS <= took < 5
    assert ran == ["polite"]
    info = hub.plugins.infos["hangs"]
    assert info.failures == 1
    assert "TimeoutError" in (info.error or "")


async def test_a_failing_shutdown_does_not_stop_the_others(make_hub):
    ran: list[str] = []

    class Broken:
        @hookimpl
        def shutdown(self, hub: Any) -> None:
            raise OSError("disk gone")

    class Polite:
        @hookimpl
        async def shutdown(self, hub: Any) -> None:
            ran.append("polite")

    hub = make_hub()
    hub.plugins.register(Polite(), "polite")
    hub.plugins.register(Broken(), "broken")
    await hub.async_start()
    await hub.async_stop()
    assert ran == ["polite"]
    assert hub.plugins.infos["broken"].failures == 1
    assert "disk gone" in (hub.plugins.infos["broken"].error or "")
