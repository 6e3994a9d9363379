"""Sunrise and sunset computed locally agree with published almanac times."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from hub.automations.sun import next_sun_event, sun_event_on


@pytest.mark.parametrize(
    ("place", "lat", "lon", "zone", "day", "sunrise", "sunset"),
    [
        # Published almanac times (rounded to the minute).
        ("New York", 40.7128, -74.0060, "America/New_York", date(2024, 6, 21), "05:25", "20:31"),
        ("London", 51.5074, -0.1278, "Europe/London", date(2024, 3, 20), "06:02", "18:14"),
        ("Sydney", -33.8688, 151.2093, "Australia/Sydney", date(2024, 12, 21), "05:41", "20:05"),
        ("Tokyo", 35.6762, 139.6503, "Asia/Tokyo", date(2024, 6, 21), "04:25", "19:00"),
    ],
)
def test_known_sunrise_and_sunset(place, lat, lon, zone, day, sunrise, sunset):
    tz = ZoneInfo(zone)
    for event, expected in (("sunrise", sunrise), ("sunset", sunset)):
        found = sun_event_on(day, lat, lon, event)
        assert found is not None
        got = datetime.fromtimestamp(found, tz)
        want = datetime.combine(day, datetime.strptime(expected, "%H:%M").time(), tzinfo=tz)
        assert abs((got - want).total_seconds()) <= 120, (place, event, got)


def test_midnight_sun_and_polar_night_have_no_event():
    assert sun_event_on(date(2024, 6, 21), 69.65, 18.96, "sunset") is None
    assert sun_event_on(date(2024, 12, 21), 69.65, 18.96, "sunrise") is None
    tz = ZoneInfo("Europe/Oslo")
    after = datetime(2024, 6, 21, tzinfo=tz).timestamp()
    later = next_sun_event(after, tz, 69.65, 18.96, "sunset")
    assert later is not None and datetime.fromtimestamp(later, tz).month == 7


def test_next_event_with_offset():
    tz = ZoneInfo("America/New_York")
    noon = datetime(2024, 6, 21, 12, tzinfo=tz).timestamp()
    sunset = next_sun_event(noon, tz, 40.7128, -74.0060, "sunset", offset=-1800)
    assert sunset is not None
    assert datetime.fromtimestamp(sunset, tz).strftime("%H:%M") in ("20:00", "20:01")
    sunrise = next_sun_event(noon, tz, 40.7128, -74.0060, "sunrise")
    assert sunrise is not None and datetime.fromtimestamp(sunrise, tz).day == 22
