"""Wall-clock schedules in the house's time zone: times of day, cron lines, time windows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CRON_SEARCH_DAYS = 5 * 366
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


def house_zone(name: str | None) -> tzinfo:
    """The configured zone, or the machine's local zone."""
    if name:
        return ZoneInfo(name)
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local


def parse_time(text: str) -> time:
    """`HH:MM` or `HH:MM:SS` (24 h) to a time; ValueError with a readable message."""
    match = _TIME.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"must be a time of day like 22:00 or 06:30:15 (got '{text}')")
    hour, minute, second = match.groups()
    return time(int(hour), int(minute), int(second or 0))


def local_instant(day: date, at: time, tz: tzinfo) -> float:
    """Epoch seconds of a local date and time.

    A time skipped by a DST jump maps to the same offset after the jump (02:30 becomes
    03:30); a time that happens twice means its first occurrence.
    """
    return datetime.combine(day, at, tzinfo=tz).timestamp()


def next_time_of_day(after: float, at: time, tz: tzinfo) -> float:
    """The first instant strictly after `after` whose local time is `at`."""
    day = datetime.fromtimestamp(after, tz).date() - timedelta(days=1)
    for days in range(4):
        candidate = local_instant(day + timedelta(days=days), at, tz)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a time of day comes within two days")


def _cron_field(text: str, low: int, high: int, name: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"{name}: bad step '{step_text}'")
        if base == "*":
            first, last = low, high
        elif re.fullmatch(r"\d+-\d+", base):
            first, last = (int(v) for v in base.split("-"))
        elif base.isdigit():
            first = last = int(base)
            if step is not None:
                last = high
        else:
            raise ValueError(f"{name}: cannot read '{part}'")
        if not (low <= first <= high and low <= last <= high and first <= last):
            raise ValueError(f"{name}: '{part}' is outside {low}-{high}")
        values.update(range(first, last + 1, step or 1))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    """A five-field cron line: minute hour day-of-month month day-of-week (0 or 7 = Sunday)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, line: str) -> Cron:
        """Parse a cron line; ValueError names the bad field."""
        fields = line.split()
        if len(fields) != 5:
            raise ValueError(
                f"a cron line has 5 fields: minute hour day month weekday (got {len(fields)})"
            )
        weekdays = _cron_field(fields[4], 0, 7, "weekday")
        return cls(
            minutes=_cron_field(fields[0], 0, 59, "minute"),
            hours=_cron_field(fields[1], 0, 23, "hour"),
            days=_cron_field(fields[2], 1, 31, "day"),
            months=_cron_field(fields[3], 1, 12, "month"),
            weekdays=frozenset(d % 7 for d in weekdays),
            any_day=fields[2] == "*",
            any_weekday=fields[4] == "*",
        )

    def day_matches(self, day: date) -> bool:
        """Cron's rule: when both day fields are restricted, either may match."""
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def next_after(self, after: float, tz: tzinfo) -> float | None:
        """The first matching local minute strictly after `after` (None if there is none)."""
        start = datetime.fromtimestamp(after, tz).date()
        times = sorted(time(h, m) for h in self.hours for m in self.minutes)
        for days in range(CRON_SEARCH_DAYS):
            day = start + timedelta(days=days)
            if not self.day_matches(day):
                continue
            for at in times:
                candidate = local_instant(day, at, tz)
                if candidate > after:
                    return candidate
        return None


def in_window(
    when: float,
    tz: tzinfo,
    after: time | None,
    before: time | None,
    weekdays: Iterable[str] = (),
) -> bool:
    """Whether `when` falls in [after, before) local time; `after > before` crosses midnight.

    `weekdays` name the day the window opens on: Friday 22:00-06:00 includes Saturday 03:00.
    """
    local = datetime.fromtimestamp(when, tz)
    now = local.time().replace(tzinfo=None)
    day = local.date()
    if after is not None and before is not None and after > before:
        inside = now >= after or now < before
        if now < before:
            day -= timedelta(days=1)
    else:
        inside = (after is None or now >= after) and (before is None or now < before)
    wanted = set(weekdays)
    return inside and (not wanted or WEEKDAYS[day.weekday()] in wanted)
