"""Hub lifecycle: start, owned tasks, staged stop, start-up errors, health."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from hub.core import Hub, HubStartError, prepare_data_dir
from hub.events import HubStarted, HubStopping, PluginFailed
from hub.extensions.manager import MAX_CONSECUTIVE_FAILURES
from hub.hookspecs import hookimpl
from tests.helpers import wait_until


async def test_start_and_stop_publish_lifecycle_events(make_hub):
    hub = make_hub()
    seen = hub.bus.subscribe("t", (HubStarted, HubStopping))
    await hub.async_start()
    assert hub.running and hub.health()["status"] == "ok"
    assert isinstance(await seen.get(), HubStarted)
    hub.bus.publish(HubStopping())  # what async_stop publishes first
    assert isinstance(await seen.get(), HubStopping)
    await hub.async_stop()
    assert not hub.running and hub.health()["status"] == "stopped"


async def test_owned_tasks_are_cancelled_on_stop(make_hub):
    hub = make_hub()
    await hub.async_start()
    cancelled = asyncio.Event()

    async def forever():
        try:
            await asyncio.Event().wait()  # never set: hangs until cancelled
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = hub.async_create_task(forever(), "forever")
    await asyncio.sleep(0)
    started = time.monotonic()
    await hub.async_stop()
    assert task.cancelled() and cancelled.is_set()
    assert time.monotonic() - started < 5


async def test_stop_is_bounded_even_with_a_stuck_plugin_and_camera(make_hub):
    class Stuck:
        @hookimpl
        async def shutdown(self, hub):
            await asyncio.Event().wait()  # never set: hangs until cancelled

        @hookimpl
        def camera_source(self, hub, camera_id, config):
            return StubbornSource()

    class StubbornSource:
        async def async_run(self):
            ignored = 0
            while True:
                try:
                    await asyncio.Event().wait()  # never set: hangs until cancelled
                except asyncio.CancelledError:
                    # Ignores the hub's cancellations, like a badly written plugin; gives in
                    # to the test runner's at the end, or the runner would wait for ever.
                    ignored += 1
                    if ignored > 2:
                        raise

    hub = make_hub("cameras:\n  porch:\n    url: demo://\n")
    hub.plugins.register(Stuck(), "stuck")
    await hub.async_start()
    started = time.monotonic()
    await hub.async_stop()
    assert time.monotonic() - started < 5
    assert hub.plugins.infos["stuck"].failures == 1


async def test_unwritable_data_dir_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(HubStartError, match=r"data dir .*file/data is not writable"):
        prepare_data_dir(blocker / "data")
    if os.geteuid() != 0:  # root writes anywhere; the case above covers root too
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(HubStartError, match="not writable"):
            prepare_data_dir(locked)


async def test_hub_start_fails_cleanly_on_bad_data_dir(tmp_path, write_config):
    from hub.config.loading import load_config

    (tmp_path / "blocked").write_text("")
    hub = Hub(load_config(write_config("{}\n")), tmp_path / "blocked" / "data")
    with pytest.raises(HubStartError, match="not writable"):
        await hub.async_start()


async def test_camera_without_source_plugin_is_an_error_state_not_a_crash(make_hub):
    hub = make_hub(
        "plugins:\n  disabled: [pyav_source]\n"
        "cameras:\n  gate:\n    url: rtsp://u:p4ssw0rd@192.0.2.1/s\n"
    )
    await hub.async_start()
    state = hub.states.get("camera.gate")
    assert state is not None and state.state == "error"
    assert state.attributes["reason"] == "no source plugin opens rtsp URLs"
    assert hub.health()["cameras"] == {"camera.gate": "error"}
    await hub.async_stop()


async def test_disabled_camera_is_not_started(make_hub):
    class Counting:
        calls = 0

        @hookimpl
        def camera_source(self, hub, camera_id, config):
            Counting.calls += 1

    hub = make_hub("cameras:\n  attic:\n    url: demo://\n    enabled: false\n")
    hub.plugins.register(Counting(), "counting")
    await hub.async_start()
    assert hub.states.get("camera.attic").state == "disabled"
    assert Counting.calls == 0
    await hub.async_stop()


async def test_failing_camera_source_goes_offline_with_reason_and_retries(make_hub, monkeypatch):
    monkeypatch.setattr("hub.cameras.manager.backoff_delay", lambda attempt: 0.01)
    runs = []

    class Failing:
        async def async_run(self):
            runs.append(time.monotonic())
            raise ConnectionError("camera refused")

    class Plugin:
        @hookimpl
        def camera_source(self, hub, camera_id, config):
            return Failing()

    hub = make_hub("cameras:\n  shed:\n    url: demo://\n")
    hub.plugins.register(Plugin(), "p")
    await hub.async_start()
    # Retries are paced by the (shortened) back-off timer, not by hub work.
    await wait_until(lambda: len(runs) >= 3, 10, "three attempts")
    state = hub.states.get("camera.shed")
    assert state.state == "offline"
    assert state.attributes["reason"] == "ConnectionError: camera refused"
    await hub.async_stop()


async def test_plugin_disabled_after_failures_is_on_the_bus_and_in_health(make_hub):
    class Bad:
        @hookimpl
        def event_published(self, hub, event):
            raise RuntimeError("cannot mirror")

    hub = make_hub()
    hub.plugins.register(Bad(), "bad")
    failures = hub.bus.subscribe("t", (PluginFailed,))
    await hub.async_start()
    for _ in range(MAX_CONSECUTIVE_FAILURES):
        hub.bus.publish(HubStarted())
    event = await asyncio.wait_for(failures.get(), 2)
    assert event.plugin == "bad" and "cannot mirror" in event.reason
    health = hub.health()
    assert health["plugins_failed"] == ["bad"]
    assert any("plugin bad disabled" in p for p in health["problems"])
    await hub.async_stop()


async def test_unknown_notifier_type_is_a_problem_and_the_hub_runs(make_hub):
    hub = make_hub("notifiers:\n  phone:\n    type: pager\n  log:\n    type: log\n")
    await hub.async_start()
    assert list(hub.notifiers) == ["log"]
    assert hub.problems == [
        "config.yaml:3: notifiers.phone.type: "
        "unknown notifier type 'pager' (known: email, log, mqtt, ntfy, panel, webhook)"
    ]
    await hub.async_stop()


async def test_insert_goes_through_the_writer_and_reads_back(started_hub):
    await started_hub.async_insert(
        "events", {"id": "e1", "camera": "front", "kind": "motion", "start": 1.5, "data": {"a": 1}}
    )
    rows = await started_hub.storage.async_read(lambda db: list(db.table("events").rows))
    assert rows[0]["id"] == "e1" and rows[0]["data"] == '{"a": 1}'
