"""Automations: when a trigger fires and the conditions pass, run the actions (issue 6)."""

from __future__ import annotations

from hub.automations.clock import Clock, ManualClock, RealClock
from hub.automations.engine import AutomationEngine

__all__ = ["AutomationEngine", "Clock", "ManualClock", "RealClock"]
