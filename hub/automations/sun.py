"""Sunrise and sunset computed on the box (NOAA's general solar position formulas)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal

SunEvent = Literal["sunrise", "sunset"]
ZENITH_DEGREES = 90.833
"""The sun's centre this far from the zenith is sunrise/sunset (refraction and disc size)."""
SEARCH_DAYS = 370
"""Beyond the polar circles the sun may not rise or set for months: look a year ahead."""


def sun_event_utc(day: date, latitude: float, longitude: float, event: SunEvent) -> float | None:
    """Epoch seconds of the sunrise or sunset on the UTC date `day`, or None (polar day/night).

    Accurate to about a minute away from the poles, which is what schedules need.
    """
    gamma = 2 * math.pi / 365 * (day.timetuple().tm_yday - 1)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    lat = math.radians(latitude)
    cos_ha = math.cos(math.radians(ZENITH_DEGREES)) / (math.cos(lat) * math.cos(decl)) - math.tan(
        lat
    ) * math.tan(decl)
    if not -1.0 <= cos_ha <= 1.0:
        return None
    ha = math.degrees(math.acos(cos_ha))
    sign = 1 if event == "sunrise" else -1
    minutes = 720 - 4 * (longitude + sign * ha) - eqtime
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    return midnight + minutes * 60


def sun_event_on(day: date, latitude: float, longitude: float, event: SunEvent) -> float | None:
    """The sunrise or sunset of the solar day `day` (its solar noon falls on that UTC date)."""
    return sun_event_utc(day, latitude, longitude, event)


def next_sun_event(
    after: float,
    tz: tzinfo,
    latitude: float,
    longitude: float,
    event: SunEvent,
    offset: float = 0.0,
) -> float | None:
    """The first `event + offset` strictly after `after`, or None if none within a year."""
    start = datetime.fromtimestamp(after, tz).date() - timedelta(days=1)
    for days in range(SEARCH_DAYS):
        found = sun_event_on(start + timedelta(days=days), latitude, longitude, event)
        if found is not None and found + offset > after:
            return found + offset
    return None
