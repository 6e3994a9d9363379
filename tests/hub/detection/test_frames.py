"""The frame slot between a source and a detector: newest wins, replayed frames queue first."""

from __future__ import annotations

import asyncio

import numpy as np

from hub.detection.frames import MAX_REPLAYED_FRAMES, Frame, FrameFeed


def frame(when: float, replayed: bool = False) -> Frame:
    gray = np.zeros((4, 4), np.uint8)
    return Frame("cam", when, gray, lambda: np.zeros((4, 4, 3), np.uint8), replayed=replayed)


async def test_newest_live_frame_wins_and_drops_are_counted():
    feed = FrameFeed()
    slot = feed.attach()
    for when in (1.0, 2.0, 3.0):
        feed.put(frame(when))
    assert (await slot.get()).time == 3.0
    assert slot.dropped == 2 and slot.delivered == 1


async def test_replayed_frames_are_read_first_in_order_then_the_live_one():
    feed = FrameFeed()
    slot, other = feed.attach(), feed.attach()
    feed.put(frame(10.0))  # the keyframe that showed motion, not read yet
    feed.replay([frame(8.0 + i / 5, replayed=True) for i in range(10)])
    times = [(await slot.get()).time for _ in range(11)]
    assert times == [8.0 + i / 5 for i in range(10)] + [10.0]
    assert slot.dropped == 0 and slot.delivered == 11
    assert len([f for f in [await other.get() for _ in range(11)] if f.replayed]) == 10


async def test_replay_is_bounded_and_wakes_a_waiting_reader():
    feed = FrameFeed()
    slot = feed.attach()
    reader = asyncio.create_task(slot.get())
    await asyncio.sleep(0)
    feed.replay([frame(float(i), replayed=True) for i in range(MAX_REPLAYED_FRAMES + 7)])
    first = await asyncio.wait_for(reader, 1)
    # The oldest beyond the bound went (counted); the reader got the oldest kept.
    assert first.time == 7.0 and slot.dropped == 7
    assert feed.dropped == 7
