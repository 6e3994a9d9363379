"""Which of a device's profiles is recorded (main) and which is decoded for detection (sub)."""

from __future__ import annotations

from hub.cameras.discovery import StreamProfile, is_h264, pick_streams


def profile(token: str, width: int, height: int, codec: str = "H264") -> StreamProfile:
    return StreamProfile(token, token, width, height, codec, f"rtsp://192.0.2.1/{token}")


def tokens(*profiles: StreamProfile) -> tuple[str | None, str | None]:
    main, sub = pick_streams(list(profiles))
    return (main.token if main else None, sub.token if sub else None)


def test_a_second_smaller_h264_profile_is_the_detection_stream():
    assert tokens(profile("main", 1920, 1080), profile("sub", 640, 360)) == ("main", "sub")
    # H.265 main streams are common; the H.264 sub-stream is what a Pi decodes cheaply.
    assert tokens(profile("main", 2560, 1440, "H265"), profile("sub", 640, 480)) == (
        "main",
        "sub",
    )


def test_a_sub_stream_the_hub_would_decode_no_cheaper_is_not_used():
    # H.265 or MJPEG sub-streams, or one as large as the main stream, gain nothing.
    assert tokens(profile("main", 1920, 1080), profile("sub", 640, 360, "H265")) == ("main", None)
    assert tokens(profile("main", 1920, 1080), profile("sub", 640, 360, "JPEG")) == ("main", None)
    assert tokens(profile("main", 1280, 720), profile("copy", 1280, 720)) == ("main", None)
    assert tokens(
        profile("main", 1920, 1080), StreamProfile("x", "x", None, None, "H264", "r")
    ) == (
        "main",
        None,
    )
    assert tokens(profile("alone", 1920, 1080)) == ("alone", None)


def test_the_smallest_profile_as_tall_as_detection_frames_wins_else_the_largest_below():
    three = (profile("main", 2688, 1520), profile("sub", 640, 360), profile("third", 320, 240))
    assert tokens(*three) == ("main", "sub")
    assert tokens(profile("main", 1280, 720), profile("a", 320, 180), profile("b", 480, 270)) == (
        "main",
        "b",
    )


def test_h264_under_the_names_devices_give_it():
    assert all(is_h264(name) for name in ("H264", "h.264", "AVC", " avc1 ", "H-264"))
    assert not any(is_h264(name) for name in ("H265", "HEVC", "JPEG", "MPEG4", ""))
