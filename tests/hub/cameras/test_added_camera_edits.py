"""The data dir's cameras file: URL logins, panel zones over the config file, bad edits reported."""

from __future__ import annotations

import yaml

from hub.cameras.added import AddedCameraStore

CONFIG = """
cameras:
  yard:
    url: demo://
    enabled: false
    zones:
      lawn:
        points: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
"""


def test_a_login_and_panel_zones_load_from_the_data_dir(make_hub, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "secrets.yaml").write_text("porch_password: pa55word\n")
    (data / "cameras.yaml").write_text(
        "cameras:\n"
        "  porch:\n    url: rtsp://10.0.0.5/main\n    enabled: false\n"
        "    login:\n      username: admin\n      password: !secret porch_password\n"
        "overrides:\n  yard:\n    masks: [[[0, 0], [0.5, 0], [0.5, 0.5]]]\n"
    )
    hub = make_hub(CONFIG)
    cameras = hub.cameras
    assert cameras["porch"].config.url == "rtsp://admin:pa55word@10.0.0.5/main"
    yard = cameras["yard"].config
    assert list(yard.zones) == ["lawn"] and len(yard.masks) == 1  # only `masks` was saved
    assert hub.cameras.load_problems == []
    assert "pa55word" not in hub.redactor("rtsp://admin:pa55word@10.0.0.5/main")


def test_a_broken_override_is_a_problem_and_the_config_stays(make_hub, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    bad = {"overrides": {"yard": {"zones": {"x": {"points": [[0, 0], [5, 5]]}}}}}
    (data / "cameras.yaml").write_text(yaml.safe_dump(bad))
    hub = make_hub(CONFIG)
    assert list(hub.cameras["yard"].config.zones) == ["lawn"]
    [problem] = hub.cameras.load_problems
    assert "overrides.yard" in problem and "zones.x.points" in problem


def test_removing_an_added_camera_drops_its_password(tmp_path):
    store = AddedCameraStore(tmp_path)
    store.save("porch", {"url": "rtsp://10.0.0.5/main", "login": {"username": "u"}}, "pw", "login")
    assert "porch_password" in (tmp_path / "secrets.yaml").read_text()
    assert store.ids() == {"porch"}
    assert store.remove("porch") is True and store.remove("porch") is False
    assert "porch_password" not in (tmp_path / "secrets.yaml").read_text()
    assert store.ids() == set()
