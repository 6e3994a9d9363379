"""Entity state registry: `state_changed` is published only when something really changed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hub.bus import EventBus
from hub.events import Context, StateChanged

HOUSE_MODE_ENTITY = "mode.house"
"""The house mode (`home`, `away`, `night`, ...): set by `Hub.async_set_mode`, read by triggers."""
DEFAULT_HOUSE_MODE = "home"


@dataclass(frozen=True)
class State:
    """The current state of one entity, e.g. `camera.front` = `online`."""

    entity_id: str
    state: str
    attributes: dict[str, Any] = field(default_factory=dict)
    last_changed: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "entity_id": self.entity_id,
            "state": self.state,
            "attributes": dict(self.attributes),
            "last_changed": self.last_changed,
        }


class StateRegistry:
    """Holds entity states; writes that change nothing publish nothing."""

    def __init__(self, bus: EventBus):
        self._bus = bus
        self._states: dict[str, State] = {}

    def get(self, entity_id: str) -> State | None:
        """The state of an entity, or None if unknown."""
        return self._states.get(entity_id)

    def all(self, domain: str | None = None) -> list[State]:
        """Every state, optionally only those of one domain (`camera`)."""
        prefix = f"{domain}." if domain else ""
        return [s for key, s in sorted(self._states.items()) if key.startswith(prefix)]

    def async_set(
        self,
        entity_id: str,
        state: str,
        attributes: dict[str, Any] | None = None,
        context: Context | None = None,
    ) -> bool:
        """Set a state; returns True (and publishes) only if state or attributes changed."""
        attributes = dict(attributes or {})
        old = self._states.get(entity_id)
        if old is not None and old.state == state and old.attributes == attributes:
            return False
        changed_at = old.last_changed if old is not None and old.state == state else time.time()
        self._states[entity_id] = State(entity_id, state, attributes, changed_at)
        self._bus.publish(
            StateChanged(
                entity_id=entity_id,
                old_state=old.state if old else None,
                new_state=state,
                attributes=attributes,
                context=context or Context(),
            )
        )
        return True

    def async_remove(self, entity_id: str) -> None:
        """Forget an entity."""
        self._states.pop(entity_id, None)
