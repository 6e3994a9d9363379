"""DecodeControl: who asked for every frame and until when, and what the source reports."""

from __future__ import annotations

import time

import pytest

from hub.cameras.decoding import MAX_REASONS, DecodeControl, FrameRate


def test_requests_extend_never_shorten_and_expire():
    control = DecodeControl("adaptive", idle_after=10)
    now = time.time()
    assert not control.full_wanted(now)
    control.request_full("motion", 10)
    control.request_full("motion", 2)  # shorter: the earlier, longer request stands
    control.request_full("snapshot", 5)
    assert control.full_wanted(now + 9)
    assert not control.full_wanted(now + 11)
    reasons = control.reasons(now)
    assert set(reasons) == {"motion", "snapshot"}
    assert reasons["motion"] == pytest.approx(10, abs=0.5)
    assert control.reasons(now + 6) == {"motion": pytest.approx(4, abs=0.5)}


def test_always_wants_every_frame_and_configure_switches():
    control = DecodeControl("always", idle_after=10)
    assert control.full_wanted()
    control.configure("adaptive", 3)
    assert not control.full_wanted() and control.idle_after == 3


def test_reasons_are_bounded_the_soonest_to_expire_goes():
    control = DecodeControl()
    for i in range(MAX_REASONS + 5):
        control.request_full(f"plugin {i}", 100 + i)
    reasons = control.reasons()
    assert len(reasons) == MAX_REASONS
    assert "plugin 0" not in reasons and f"plugin {MAX_REASONS + 4}" in reasons
    assert control.full_wanted(time.time() + 100 + MAX_REASONS)  # the longest still counts


def test_modes_count_wakeups_and_show_in_the_dict():
    control = DecodeControl()
    for mode in ("idle", "full", "idle", "full", "off", "full"):
        control.set_mode(mode)
    data = control.as_dict()
    assert data["mode"] == "full" and data["wakeups"] == 2  # off -> full is no wake-up
    assert data["setting"] == "adaptive" and data["reasons"] == {}


def test_frame_rate_counts_whole_seconds_over_a_window():
    rate = FrameRate()
    for second in range(100, 105):
        for i in range(15):
            rate.add(1, second + i / 15)
    assert rate.per_second(105.2) == pytest.approx(15.0)  # 100..104 (105 is not whole yet)
    for second in range(105, 110):
        rate.add(1, second + 0.5)
    assert rate.per_second(110.5) == pytest.approx(1.0)  # 105..109: an idle camera's pace
    assert rate.total == 5 * 15 + 5
    assert rate.per_second(200.0) == 0.0  # long quiet: nothing counted
