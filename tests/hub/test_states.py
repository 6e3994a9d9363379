"""State registry: state_changed only on real change."""

from __future__ import annotations

from hub.bus import EventBus
from hub.events import StateChanged
from hub.states import StateRegistry


async def test_state_changed_only_when_something_changed():
    bus = EventBus()
    changes = bus.subscribe("t", (StateChanged,))
    states = StateRegistry(bus)
    assert states.async_set("camera.front", "online") is True
    assert states.async_set("camera.front", "online") is False
    assert states.async_set("camera.front", "online", {"fps": 5}) is True
    assert states.async_set("camera.front", "offline", {"reason": "timeout"}) is True
    events = [await changes.get() for _ in range(3)]
    assert [(e.old_state, e.new_state) for e in events] == [
        (None, "online"),
        ("online", "online"),
        ("online", "offline"),
    ]
    assert changes.stats.queued == 0


async def test_last_changed_kept_when_only_attributes_change():
    states = StateRegistry(EventBus())
    states.async_set("camera.a", "online")
    first = states.get("camera.a")
    states.async_set("camera.a", "online", {"fps": 4})
    second = states.get("camera.a")
    assert first is not None and second is not None
    assert second.last_changed == first.last_changed
    assert second.attributes == {"fps": 4}


def test_all_filters_by_domain():
    states = StateRegistry(EventBus())
    states.async_set("camera.b", "online")
    states.async_set("camera.a", "offline")
    states.async_set("mode.house", "home")
    assert [s.entity_id for s in states.all("camera")] == ["camera.a", "camera.b"]
    assert len(states.all()) == 3
