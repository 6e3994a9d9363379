"""Time windows (across midnight, across DST), times of day over DST changes, cron lines."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hub.automations.schedule import Cron, in_window, next_time_of_day, parse_time

PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> float:
    """Epoch seconds of a Paris wall-clock time 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=PARIS).timestamp()


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts, PARIS).strftime("%Y-%m-%d %H:%M %Z")


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        ("2024-06-03 21:59", False),
        ("2024-06-03 22:00", True),
        ("2024-06-03 23:59", True),
        ("2024-06-04 00:00", True),
        ("2024-06-04 06:29", True),
        ("2024-06-04 06:30", False),
        ("2024-06-04 12:00", False),
    ],
)
def test_window_crossing_midnight(when, inside):
    assert in_window(at(when), PARIS, parse_time("22:00"), parse_time("06:30")) is inside


def test_weekdays_name_the_day_the_window_opens():
    friday_night = ["fri"]
    after, before = parse_time("22:00"), parse_time("06:00")
    assert in_window(at("2024-06-07 23:00"), PARIS, after, before, friday_night)  # Fri
    assert in_window(at("2024-06-08 03:00"), PARIS, after, before, friday_night)  # Sat early
    assert not in_window(at("2024-06-08 23:00"), PARIS, after, before, friday_night)  # Sat
    assert not in_window(at("2024-06-07 03:00"), PARIS, after, before, friday_night)  # Thu's


def test_window_follows_wall_clock_across_dst_changes():
    after, before = parse_time("22:00"), parse_time("06:30")
    # Spring forward (2024-03-31 02:00 -> 03:00) and fall back (2024-10-27 03:00 -> 02:00).
    assert in_window(at("2024-03-31 03:30"), PARIS, after, before)
    assert in_window(at("2024-10-27 02:30"), PARIS, after, before)
    assert not in_window(at("2024-03-31 07:00"), PARIS, after, before)
    # The same UTC instant is 21:30 in winter time and 22:30 in summer time.
    assert not in_window(at("2024-03-30 21:30"), PARIS, after, before)
    assert in_window(at("2024-03-31 22:30"), PARIS, after, before)


def test_time_of_day_fires_once_a_day_through_both_dst_changes():
    for start, days in (("2024-03-29 12:00", 4), ("2024-10-25 12:00", 4)):
        fired = []
        now = at(start)
        for _ in range(days):
            now = next_time_of_day(now, parse_time("02:30"), PARIS)
            fired.append(local(now))
        # One per day; the 02:30 skipped in spring happens at 03:30 (the instant after the gap).
        assert len({f[:10] for f in fired}) == days, fired
    spring = [local(next_time_of_day(at("2024-03-30 12:00"), parse_time("02:30"), PARIS))]
    assert spring == ["2024-03-31 03:30 CEST"]
    autumn = local(next_time_of_day(at("2024-10-26 12:00"), parse_time("02:30"), PARIS))
    assert autumn == "2024-10-27 02:30 CEST"  # the first of the two 02:30s


def test_seven_oclock_is_seven_oclock_before_and_after_dst():
    before = next_time_of_day(at("2024-03-30 12:00"), parse_time("07:00"), PARIS)
    after = next_time_of_day(before, parse_time("07:00"), PARIS)
    assert local(before) == "2024-03-31 07:00 CEST"
    assert local(after) == "2024-04-01 07:00 CEST"
    assert after - before == 24 * 3600
    first = next_time_of_day(at("2024-03-30 06:00"), parse_time("07:00"), PARIS)
    assert before - first == 23 * 3600  # the short day


def test_cron_lines():
    every_15_on_weekdays = Cron.parse("*/15 8-9 * * 1-5")
    now = at("2024-06-07 09:50")  # Friday
    assert local(every_15_on_weekdays.next_after(now, PARIS) or 0) == "2024-06-10 08:00 CEST"
    first_of_month = Cron.parse("0 12 1 * *")
    assert local(first_of_month.next_after(now, PARIS) or 0) == "2024-07-01 12:00 CEST"
    sundays = Cron.parse("30 6 * * 0")
    assert local(sundays.next_after(now, PARIS) or 0) == "2024-06-09 06:30 CEST"
    assert Cron.parse("0 0 31 2 *").next_after(now, PARIS) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("* * *", "a cron line has 5 fields"),
        ("61 * * * *", "minute: '61' is outside 0-59"),
        ("* 5-2 * * *", "hour: '5-2' is outside 0-23"),
        ("* * * * mon", "weekday: cannot read 'mon'"),
        ("*/0 * * * *", "minute: bad step '0'"),
    ],
)
def test_bad_cron_lines_say_which_field(line, message):
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        Cron.parse(line)


@pytest.mark.parametrize("text", ["24:00", "7", "7:5", "07:60", "noon", ""])
def test_bad_times(text):
    with pytest.raises(ValueError, match="must be a time of day"):
        parse_time(text)
