"""The IoU tracker: one id per object, tentative tracks, ends, stationary objects."""

from __future__ import annotations

import pytest

from hub.detection.tracker import Tracker, iou


def person(x: float, y: float = 100, score: float = 0.8) -> tuple[str, float, tuple]:
    return ("person", score, (x, y, x + 40, y + 100))


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0


def test_a_walker_is_one_track_confirmed_after_min_hits():
    tracker = Tracker(min_hits=2, end_after=2)
    first = tracker.update([person(100)], 0.0)
    assert first.confirmed == [] and len(tracker.tracks) == 1  # tentative
    second = tracker.update([person(110)], 0.5)
    assert len(second.confirmed) == 1
    track = second.confirmed[0]
    for step in range(2, 10):
        update = tracker.update([person(100 + 10 * step)], step * 0.5)
        assert update.seen == [track] and update.confirmed == []
    assert len(tracker.tracks) == 1 and track.hits == 10


def test_a_single_false_detection_never_confirms_and_expires():
    tracker = Tracker(min_hits=2, end_after=1)
    tracker.update([person(100)], 0.0)
    update = tracker.update([], 1.5)
    assert update.ended == [] and tracker.tracks == []  # tentative: no event to end


def test_track_ends_after_end_after_unseen():
    tracker = Tracker(min_hits=1, end_after=2)
    (track,) = tracker.update([person(0)], 0.0).confirmed
    assert tracker.update([], 1.9).ended == []
    assert tracker.update([], 2.0).ended == [track]


def test_two_people_two_tracks_and_labels_never_mix():
    tracker = Tracker(min_hits=1)
    update = tracker.update([person(0), person(300), ("car", 0.9, (0, 100, 40, 200))], 0)
    assert len(update.confirmed) == 3
    later = tracker.update([person(5), person(305), ("car", 0.9, (2, 100, 42, 200))], 0.5)
    assert {t.id for t in later.seen} == {t.id for t in update.confirmed}


def test_higher_score_is_reported_as_an_improvement():
    tracker = Tracker(min_hits=1)
    (track,) = tracker.update([person(0, score=0.6)], 0).confirmed
    assert tracker.update([person(2, score=0.55)], 0.5).improved == []
    assert tracker.update([person(4, score=0.9)], 1.0).improved == [track]
    assert track.top_score == 0.9


def test_a_parked_car_becomes_stationary_and_moving_again_resets():
    tracker = Tracker(min_hits=1, stationary_seconds=5, end_after=100)
    car = ("car", 0.9, (100, 100, 200, 160))
    (track,) = tracker.update([car], 0).confirmed
    for t in range(1, 5):
        tracker.update([car], float(t))
        assert not track.stationary
    tracker.update([car], 5.0)
    assert track.stationary
    tracker.update([("car", 0.9, (120, 100, 220, 160))], 6.0)  # starts to drive off
    assert not track.stationary


def test_end_all_returns_confirmed_tracks_only():
    tracker = Tracker(min_hits=2)
    tracker.update([person(0), person(300)], 0)
    tracker.update([person(2)], 0.5)  # only the first is confirmed
    ended = tracker.end_all()
    assert len(ended) == 1 and tracker.tracks == []


def test_a_fast_walker_between_detector_calls_stays_one_track():
    # 40 px wide, 60 px further at each call: no overlap, but clearly the same person.
    tracker = Tracker(min_hits=2)
    tracker.update([person(0)], 0.0)
    (track,) = tracker.update([person(60)], 0.5).confirmed
    for step in range(2, 8):
        assert tracker.update([person(60 * step)], step * 0.5).seen == [track]
    # Someone appearing far away is somebody else.
    assert tracker.update([person(60 * 8), person(60 * 7 + 400)], 4.0).seen == [track]
    assert len(tracker.tracks) == 2
