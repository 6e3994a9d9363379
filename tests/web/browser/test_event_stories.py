"""Events a person can scan, in a real chromium: a person walking past a camera (the bundled
model, no detector configured) is one story with a thumbnail, label, score and zone, and
its clip plays; the cameras page says which detector runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugins.person_clips import walking_person_video
from tests.web.browser.conftest import (
    RunningHub,
    create_admin,
    log_in,
    shot,
    start_hub,
    stop_hub,
)
from tests.web.browser.test_panel import wait_for


@pytest.fixture(scope="module")
def walkway_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub whose one camera films a person walking by every 6.5 s (a looped video file)."""
    folder = tmp_path_factory.mktemp("walkway-hub")
    video = folder / "walk.ts"
    walking_person_video(video)
    config = f"""
cameras:
  pad:
    name: Launch pad
    url: "{video}"
    motion:
      end_after: 1
    objects:
      end_after: 1
    zones:
      walkway:
        points: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
    record:
      mode: events
      pre_seconds: 1
      post_seconds: 1
      segment_seconds: 2
"""
    hub = start_hub(folder, config)
    create_admin(hub)
    yield hub
    stop_hub(hub)


FINISHED_PERSON = """async () => {
    const {events} = await (await fetch("/api/events?label=person")).json();
    const done = events.find(e => e.end);
    if (!done) return null;
    const clip = await fetch(`/api/events/${done.id}/clip.mp4`);
    return clip.ok ? done.id : null;
}"""


def test_a_person_walking_by_is_one_story_with_picture_score_zone_and_clip(walkway_hub, make_page):
    page = make_page(walkway_hub.url)
    log_in(page)
    finished = wait_for(lambda: page.evaluate(FINISHED_PERSON), 60, "a finished person event")
    page.goto("/#/events")
    row = page.locator(f'[data-event="{finished}"]')
    row.wait_for()
    assert row.get_by_test_id("event-label").inner_text() == "person"
    assert row.get_by_test_id("event-score").inner_text().endswith("%")
    assert row.get_by_test_id("event-zone").all_inner_texts() == ["walkway"]
    thumbnail = row.get_by_test_id("event-thumbnail")
    wait_for(lambda: thumbnail.evaluate("i => i.complete && i.naturalWidth") == 320, what="thumb")

    # Every row has a real picture, and the motion each person event grew out of is no row.
    pictures = page.get_by_test_id("event-thumbnail")
    wait_for(
        lambda: pictures.evaluate_all("all => all.every(i => i.complete && i.naturalWidth > 0)"),
        what="every thumbnail loaded",
    )
    assert page.get_by_test_id("event-thumbnail-none").count() == 0
    parents = page.evaluate(
        """async () => {
            const {events} = await (await fetch("/api/events?stories=0&limit=500")).json();
            return events.filter(e => e.parent_id).map(e => e.parent_id);
        }"""
    )
    assert parents
    for parent in parents:
        assert page.locator(f'[data-event="{parent}"]').count() == 0

    row.get_by_test_id("event-item").click()
    facts = page.get_by_test_id("event-facts")
    facts.wait_for()
    assert "best score" in facts.inner_text() and "walkway" in facts.inner_text()
    clip = page.get_by_test_id("clip")
    wait_for(lambda: clip.evaluate("v => v.readyState >= 1 && v.duration > 1"), what="clip")
    clip.evaluate("v => { v.muted = true; return v.play(); }")
    wait_for(lambda: clip.evaluate("v => v.currentTime > 0.3"), what="clip playing")
    shot(page, "event-story")

    page.goto("/#/cameras")
    detector = page.get_by_test_id("camera-detector")
    detector.wait_for()
    assert detector.inner_text().startswith("coco: bundled COCO model")
    assert page.get_by_test_id("camera-objects-state").inner_text() == "active"
