"""Detection frames made from decoded pictures: live ones, and replayed ones kept small."""

from __future__ import annotations

import io
import threading
import time

import av
import numpy as np

from hub import Outline
from plugins.pyav_source.frames import FrameSampler


def picture(width: int, height: int) -> av.VideoFrame:
    """Smooth ramps: any sensible scaler gives nearly the same picture."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], 2)
    return av.VideoFrame.from_ndarray(image.astype(np.uint8), format="rgb24").reformat(
        format="yuv420p"
    )


def jpeg_size(data: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(data)) as image:
        decoded = next(image.decode(video=0))
    return decoded.width, decoded.height


def test_live_and_replayed_frames_give_the_same_detection_picture_sizes():
    sampler = FrameSampler("cam", fps=5, height=360)
    decoded = picture(1280, 720)
    live = sampler.make(decoded, 100.0)
    replayed = FrameSampler("cam", fps=5, height=360).make(decoded, 99.0, replayed=True)
    assert not live.replayed and replayed.replayed
    for frame in (live, replayed):
        assert frame.gray.shape == (360, 640) and frame.rgb().shape == (360, 640, 3)
        assert frame.source_size == (1280, 720)
    # Nearest picks against a proper scaler: the same picture, near enough for motion.
    difference = np.abs(live.gray.astype(int) - replayed.gray.astype(int))
    assert np.median(difference) <= 2
    # A live frame's snapshot is full size; a replayed one keeps only a detection-size copy.
    assert jpeg_size(live.jpeg() or b"") == (1280, 720)
    assert jpeg_size(replayed.jpeg() or b"") == (640, 360)


def test_one_decoded_frame_used_from_many_threads_at_once_never_deadlocks():
    """Detection's RGB, event snapshots (scaled, outlined) and stills' JPEGs of one frame,
    from executor threads at the same time: with the frame's own shared scaler this hung
    for good inside FFmpeg, so a camera's stills stopped and the hub could not exit."""
    frame = FrameSampler("cam", fps=5, height=360).make(picture(1280, 720), 100.0)
    outline = Outline((0.1, 0.1, 0.5, 0.5), (255, 0, 0))
    jobs = [
        frame.rgb,
        lambda: frame.jpeg(),
        lambda: frame.jpeg([outline], 320),
        lambda: frame.jpeg((), 640),
    ]
    failures: list[BaseException] = []

    def work(job) -> None:
        try:
            for _ in range(40):
                job()
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(job,), daemon=True) for job in jobs * 2]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a conversion of the shared frame hung"
    assert failures == []
