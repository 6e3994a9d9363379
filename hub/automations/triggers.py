"""Built-in triggers: bus events routed by type and camera, schedules, sun, mode, webhook."""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from hub.automations.model import (
    CameraStateTriggerOptions,
    ModeTriggerOptions,
    MotionTriggerOptions,
    ObjectTriggerOptions,
    OnvifEventTriggerOptions,
    SunTriggerOptions,
    TimeTriggerOptions,
    WebhookTriggerOptions,
)
from hub.automations.schedule import Cron, next_time_of_day, parse_time
from hub.automations.sun import next_sun_event
from hub.events import (
    Context,
    Event,
    EventEnded,
    EventStarted,
    EventUpdated,
    MotionEnded,
    MotionStarted,
    ObjectEventChanged,
    OnvifEvent,
    PeerEvent,
    StateChanged,
)
from hub.states import HOUSE_MODE_ENTITY
from hub.tasks import OwnedTasks

if TYPE_CHECKING:
    from hub.automations.engine import AutomationEngine

Fire = Callable[[dict[str, Any], Context | None], None]
Detach = Callable[[], None]
EventCallback = Callable[[Event], None]
FIRED_MEMORY = 256
"""Object events an `object` trigger remembers having fired for (it fires once per event)."""


class EventDispatcher:
    """One bus listener for every automation: events go to callbacks by (type, key).

    The key is the event's camera, or the entity id for `state_changed`; callbacks
    registered with key None get every event of the type.
    """

    def __init__(self) -> None:
        self._callbacks: dict[tuple[str, str | None], list[EventCallback]] = {}

    def listen(self, event_type: str, key: str | None, callback: EventCallback) -> Detach:
        """Call `callback(event)` for matching events until the returned function is called."""
        callbacks = self._callbacks.setdefault((event_type, key), [])
        callbacks.append(callback)

        def detach() -> None:
            if callback in callbacks:
                callbacks.remove(callback)

        return detach

    def dispatch(self, event: Event) -> None:
        """Hand one event to its callbacks (the engine isolates their errors)."""
        key = getattr(event, "camera", None) or getattr(event, "entity_id", None)
        for callback in self._callbacks.get((event.event_type, key), ()):
            callback(event)
        if key is not None:
            for callback in self._callbacks.get((event.event_type, None), ()):
                callback(event)


def event_info(event: Event) -> dict[str, Any]:
    """What a trace keeps of the event that fired a trigger."""
    return {"event_type": event.event_type, "context_id": event.context.id, **_fields(event)}


def _fields(event: Event) -> dict[str, Any]:
    skip = {"context", "boxes", "detections", "attributes"}
    return {k: v for k, v in vars(event).items() if k not in skip}


class _Trigger:
    """Base of the built-in triggers: created with the engine and the automation id."""

    def __init__(self, engine: AutomationEngine, automation_id: str):
        self.engine = engine
        self.automation_id = automation_id
        self._detach: list[Detach] = []
        self._tasks = OwnedTasks(f"automation {automation_id}")

    def attach(self, fire: Fire) -> Detach:
        """Start listening; returns the function that stops."""
        self.fire = fire
        self.start()
        return self.detach

    def start(self) -> None:
        """Subclasses register listeners and timers here."""
        raise NotImplementedError

    def detach(self) -> None:
        """Stop listening and cancel timers."""
        for undo in self._detach:
            undo()
        self._detach.clear()
        self._tasks.cancel()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """A timer task owned by this trigger."""
        return self._tasks.spawn(coro, name)

    def listen(self, event_type: str, key: str | None, callback: EventCallback) -> None:
        """Listen through the engine's dispatcher until detached."""
        self._detach.append(self.engine.dispatcher.listen(event_type, key, callback))


def peer_matches(hub: str | None, camera: str | None, event: PeerEvent) -> bool:
    """Whether a peer's event is of the hub (`*`: any) and camera a trigger asks for."""
    return hub in ("*", event.hub) and (camera is None or camera == event.camera)


class MotionTrigger(_Trigger):
    """Fires on motion_started / motion_ended."""

    def __init__(self, engine: AutomationEngine, automation_id: str, options: MotionTriggerOptions):
        super().__init__(engine, automation_id)
        self.options = options

    def start(self) -> None:
        """Listen for the motion event asked for (of this hub, or of a peer)."""
        if self.options.hub is not None:
            self.listen(PeerEvent.event_type, None, self._on_peer_event)
            return
        kind = MotionStarted if self.options.event == "started" else MotionEnded
        self.listen(kind.event_type, self.options.camera, self._on_event)

    def _on_event(self, event: Event) -> None:
        assert isinstance(event, MotionStarted | MotionEnded)
        variables = {
            "trigger": "motion",
            "camera": event.camera,
            "event_id": event.event_id,
            "motion": self.options.event,
            "event": event_info(event),
        }
        self.fire(variables, event.context)

    def _on_peer_event(self, event: Event) -> None:
        assert isinstance(event, PeerEvent)
        phase = "start" if self.options.event == "started" else "end"
        if event.kind != "motion" or event.phase != phase:
            return
        if not peer_matches(self.options.hub, self.options.camera, event):
            return
        variables = {
            "trigger": "motion",
            "hub": event.hub,
            "camera": event.camera,
            "event_id": event.event_id,
            "motion": self.options.event,
            "event": event_info(event),
        }
        self.fire(variables, event.context)


class ObjectTrigger(_Trigger):
    """Fires once per object event that matches label, zone, score and min_duration."""

    def __init__(self, engine: AutomationEngine, automation_id: str, options: ObjectTriggerOptions):
        super().__init__(engine, automation_id)
        self.options = options
        self._fired: dict[str, None] = {}
        self._waiting: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        """Listen to the object event lifecycle (of this hub, or of a peer)."""
        if self.options.hub is not None:
            self.listen(PeerEvent.event_type, None, self._on_peer_event)
            return
        for kind in (EventStarted, EventUpdated, EventEnded):
            self.listen(kind.event_type, self.options.camera, self._on_event)

    def _on_peer_event(self, event: Event) -> None:
        """A peer's object event fires like one of ours (its zones are the peer's)."""
        assert isinstance(event, PeerEvent)
        if event.kind != "object" or not peer_matches(self.options.hub, self.options.camera, event):
            return
        self._on_change(event, ended=event.phase == "end")

    def _matches(self, event: ObjectEventChanged | PeerEvent) -> bool:
        options = self.options
        return (
            (options.label is None or event.label == options.label)
            and (options.zone is None or options.zone in event.zones)
            and event.top_score >= options.min_score
        )

    def _on_event(self, event: Event) -> None:
        assert isinstance(event, ObjectEventChanged)
        self._on_change(event, ended=isinstance(event, EventEnded))

    def _on_change(self, event: ObjectEventChanged | PeerEvent, ended: bool) -> None:
        """Fire once the event has lasted `min_duration` (at once, or at its time); an event
        that ends first cancels the wait."""
        if ended:
            waiting = self._waiting.pop(event.event_id, None)
            if waiting is not None:
                waiting.cancel()
            return
        if event.event_id in self._fired or not self._matches(event):
            return
        due = event.start + self.options.min_duration
        if self.engine.clock.now() >= due:
            self._fire(event)
        elif event.event_id not in self._waiting:
            task = self.spawn(self._fire_at(due, event), f"object-trigger:{self.automation_id}")
            self._waiting[event.event_id] = task

    async def _fire_at(self, due: float, event: ObjectEventChanged | PeerEvent) -> None:
        await self.engine.clock.sleep_until(due)
        self._waiting.pop(event.event_id, None)
        if event.event_id not in self._fired:
            self._fire(event)

    def _fire(self, event: ObjectEventChanged | PeerEvent) -> None:
        self._fired[event.event_id] = None
        if len(self._fired) > FIRED_MEMORY:
            del self._fired[next(iter(self._fired))]
        zone = self.options.zone or (event.zones[0] if event.zones else "")
        peer = {"hub": event.hub} if isinstance(event, PeerEvent) else {}
        variables = {
            **peer,
            "trigger": "object",
            "camera": event.camera,
            "label": event.label,
            "zone": zone,
            "zones": list(event.zones),
            "score": round(event.top_score, 3),
            "event_id": event.event_id,
            "event": event_info(event),
        }
        self.fire(variables, event.context)


class CameraStateTrigger(_Trigger):
    """Fires when a camera's state changes to `to` (and held `seconds`)."""

    def __init__(
        self, engine: AutomationEngine, automation_id: str, options: CameraStateTriggerOptions
    ):
        super().__init__(engine, automation_id)
        self.options = options
        self._pending: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        """Listen to camera state changes."""
        key = f"camera.{self.options.camera}" if self.options.camera else None
        self.listen(StateChanged.event_type, key, self._on_event)

    def _on_event(self, event: Event) -> None:
        assert isinstance(event, StateChanged)
        if not event.entity_id.startswith("camera.") or event.old_state == event.new_state:
            return
        pending = self._pending.pop(event.entity_id, None)
        if pending is not None:
            pending.cancel()
        options = self.options
        if options.to is not None and event.new_state != options.to:
            return
        if options.from_ is not None and event.old_state != options.from_:
            return
        if options.seconds <= 0:
            self._fire(event)
            return
        due = self.engine.clock.now() + options.seconds
        self._pending[event.entity_id] = self.spawn(
            self._fire_at(due, event), f"camera-state-trigger:{self.automation_id}"
        )

    async def _fire_at(self, due: float, event: StateChanged) -> None:
        await self.engine.clock.sleep_until(due)
        self._pending.pop(event.entity_id, None)
        self._fire(event)

    def _fire(self, event: StateChanged) -> None:
        variables = {
            "trigger": "camera_state",
            "camera": event.entity_id.removeprefix("camera."),
            "state": event.new_state,
            "from_state": event.old_state,
            "reason": event.attributes.get("reason", ""),
            "event": event_info(event),
        }
        self.fire(variables, event.context)


def topic_matches(pattern: str, topic: str) -> bool:
    """`*` stands for one topic level; `#` at the end for any number of levels."""
    want = pattern.strip("/").split("/")
    got = topic.strip("/").split("/")
    if want and want[-1] == "#":
        want = want[:-1]
        if len(got) < len(want):
            return False
        got = got[: len(want)]
    if len(want) != len(got):
        return False
    return all(fnmatch.fnmatchcase(g, w) for w, g in zip(want, got, strict=True))


class OnvifEventTrigger(_Trigger):
    """Fires on an ONVIF event whose topic and data match."""

    def __init__(
        self, engine: AutomationEngine, automation_id: str, options: OnvifEventTriggerOptions
    ):
        super().__init__(engine, automation_id)
        self.options = options

    def start(self) -> None:
        """Listen to ONVIF events."""
        self.listen(OnvifEvent.event_type, self.options.camera, self._on_event)

    def _on_event(self, event: Event) -> None:
        assert isinstance(event, OnvifEvent)
        if not topic_matches(self.options.topic, event.topic):
            return
        if any(event.data.get(key) != value for key, value in self.options.data.items()):
            return
        variables = {
            "trigger": "onvif_event",
            "camera": event.camera,
            "topic": event.topic,
            "data": dict(event.data),
            "event": event_info(event),
        }
        self.fire(variables, event.context)


class TimeTrigger(_Trigger):
    """Fires at times of day or on a cron schedule, in the house time zone."""

    def __init__(self, engine: AutomationEngine, automation_id: str, options: TimeTriggerOptions):
        super().__init__(engine, automation_id)
        self.times = [parse_time(at) for at in options.at]
        self.cron = Cron.parse(options.cron) if options.cron else None

    def next_after(self, now: float) -> float | None:
        """The next instant this trigger fires."""
        if self.cron is not None:
            return self.cron.next_after(now, self.engine.tz)
        return min(next_time_of_day(now, at, self.engine.tz) for at in self.times)

    def start(self) -> None:
        """Start the schedule."""
        self.spawn(self._run(), f"time-trigger:{self.automation_id}")

    async def _run(self) -> None:
        clock = self.engine.clock
        now = clock.now()
        while (due := self.next_after(now)) is not None:
            await clock.sleep_until(due)
            self.fire({"trigger": "time", "scheduled": due}, None)
            # After a suspend or a clock jump, fire once, not once per missed slot.
            now = max(due, clock.now())


class SunTrigger(_Trigger):
    """Fires at sunrise or sunset plus an offset."""

    def __init__(self, engine: AutomationEngine, automation_id: str, options: SunTriggerOptions):
        super().__init__(engine, automation_id)
        self.options = options

    def next_after(self, now: float) -> float | None:
        """The next instant this trigger fires (None without a location or near the poles)."""
        location = self.engine.hub.config.location
        if location.latitude is None or location.longitude is None:
            return None
        return next_sun_event(
            now,
            self.engine.tz,
            location.latitude,
            location.longitude,
            self.options.event,
            self.options.offset,
        )

    def start(self) -> None:
        """Start the schedule."""
        self.spawn(self._run(), f"sun-trigger:{self.automation_id}")

    async def _run(self) -> None:
        clock = self.engine.clock
        now = clock.now()
        while (due := self.next_after(now)) is not None:
            await clock.sleep_until(due)
            variables = {"trigger": "sun", "event": self.options.event, "scheduled": due}
            self.fire(variables, None)
            now = max(due, clock.now())


class ModeTrigger(_Trigger):
    """Fires when the house mode changes."""

    def __init__(self, engine: AutomationEngine, automation_id: str, options: ModeTriggerOptions):
        super().__init__(engine, automation_id)
        self.options = options

    def start(self) -> None:
        """Listen to `mode.house` changes."""
        self.listen(StateChanged.event_type, HOUSE_MODE_ENTITY, self._on_event)

    def _on_event(self, event: Event) -> None:
        assert isinstance(event, StateChanged)
        if event.old_state == event.new_state:
            return
        if self.options.to is not None and event.new_state != self.options.to:
            return
        if self.options.from_ is not None and event.old_state != self.options.from_:
            return
        variables = {
            "trigger": "mode",
            "mode": event.new_state,
            "from_mode": event.old_state,
            "event": event_info(event),
        }
        self.fire(variables, event.context)


class WebhookTrigger(_Trigger):
    """Fires when /api/webhook/<webhook_id> is called."""

    def __init__(
        self, engine: AutomationEngine, automation_id: str, options: WebhookTriggerOptions
    ):
        super().__init__(engine, automation_id)
        self.options = options

    def start(self) -> None:
        """Register the secret id with the engine."""
        self._detach.append(self.engine.register_webhook(self.options.webhook_id, self._on_call))

    def _on_call(self, payload: Any, context: Context) -> None:
        variables = {"trigger": "webhook", "webhook_id": "***", "payload": payload}
        self.fire(variables, context)
