"""Ready-made automations a homeowner starts from: a plain title, and the automation with
slots for the camera and notifier they pick (the panel's "Start from a recipe")."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

CAMERA, NOTIFIER = "<camera>", "<notifier>"
"""Slots: a value that is exactly one of these is replaced by what the person picked."""


@dataclass(frozen=True)
class Recipe:
    """One ready-made automation."""

    id: str
    title: str
    description: str
    automation: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The API form (slots left in, for the panel to fill)."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "automation": self.automation,
        }


RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "door_at_night",
        "Tell me when a person is at the door at night",
        "A notification with a picture when someone is seen between 22:00 and 07:00.",
        {
            "alias": "Person at the door at night",
            "triggers": [{"type": "object", "camera": CAMERA, "label": "person"}],
            "conditions": [{"type": "time", "after": "22:00", "before": "07:00"}],
            "actions": [
                {
                    "type": "notify",
                    "notifier": NOTIFIER,
                    "title": "Someone at the door",
                    "message": "A {label} is at {camera} ({time:%H:%M}).",
                    "snapshot": True,
                }
            ],
        },
    ),
    Recipe(
        "car_arrives",
        "Record 30 s more when a car arrives",
        "Keeps recording for 30 seconds after a car is seen, and keeps that event.",
        {
            "alias": "Car arrives",
            "triggers": [{"type": "object", "camera": CAMERA, "label": "car"}],
            "actions": [{"type": "record", "seconds": 30, "keep": True}],
        },
    ),
    Recipe(
        "arm_when_away",
        "Arm detection when everybody leaves",
        "While the house is in away mode, anyone seen on any camera sends a notification "
        "with a picture. Switch the mode on the System page, from Home Assistant, or with a "
        "webhook from your phone.",
        {
            "alias": "Someone seen while away",
            "triggers": [{"type": "object", "label": "person"}],
            "conditions": [{"type": "mode", "mode": "away"}],
            "actions": [
                {
                    "type": "notify",
                    "notifier": NOTIFIER,
                    "title": "Someone seen while you are away",
                    "message": "A {label} on {camera} at {time:%H:%M}.",
                    "snapshot": True,
                    "priority": 4,
                }
            ],
        },
    ),
)


def fill(recipe: Recipe, camera: str, notifier: str) -> dict[str, Any]:
    """The recipe's automation with its slots replaced."""

    def replace(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: replace(item) for key, item in value.items()}
        if isinstance(value, list):
            return [replace(item) for item in value]
        return (
            {CAMERA: camera, NOTIFIER: notifier}.get(value, value)
            if isinstance(value, str)
            else value
        )

    filled: dict[str, Any] = replace(copy.deepcopy(recipe.automation))
    return filled
