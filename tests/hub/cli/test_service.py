"""`camhub service install|uninstall --root DIR`: the files, owners and a unit systemd accepts.

Nothing is enabled on this machine: --root writes under a temporary root and runs
no systemctl. The unit is checked by Debian's own systemd-analyze (verify, and the
offline security review), the user is made by the real systemd-sysusers.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli.commands import main
from hub.config.loading import load_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sets file owners: needs root")

CAMHUB = Path(sys.executable).with_name("camhub")
UNIT = "etc/systemd/system/camhub.service"


def camhub(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the CLI in this process; exit code and everything it printed."""
    umask = os.umask(0o022)
    try:
        code = main(list(args))
    finally:
        os.umask(umask)  # main() sets camhub's own; the other tests keep theirs
    out, err = capsys.readouterr()
    return code, out + err


def unit_settings(root: Path) -> dict[str, list[str]]:
    """Every `Key=value` of the unit (keys may repeat), comments left out."""
    settings: dict[str, list[str]] = {}
    for line in (root / UNIT).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def passwd_entry(root: Path, name: str) -> list[str]:
    for line in (root / "etc/passwd").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":")
    raise AssertionError(f"no {name} in {root}/etc/passwd")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


def install(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> str:
    code, output = camhub(
        capsys, "service", "install", "--root", str(root), "--exec", str(CAMHUB), *extra
    )
    assert code == 0, output
    return output


def test_the_unit_is_hardened_restarts_and_systemd_accepts_it(capsys, root):
    install(capsys, root)
    unit = unit_settings(root)
    assert unit["ExecStart"] == [
        f"{CAMHUB} run --config /etc/camhub/config.yaml --data /var/lib/camhub"
    ]
    assert unit["User"] == unit["Group"] == ["camhub"]
    assert unit["Restart"] == ["on-failure"] and unit["WantedBy"] == ["multi-user.target"]
    assert unit["ReadWritePaths"] == unit["RequiresMountsFor"] == ["/var/lib/camhub"]
    for key, value in {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "RestrictSUIDSGID": "yes",
        "SystemCallFilter": "@system-service",
    }.items():
        assert unit[key] == [value], key

    # verify exits 0 even for unknown keys or bad values: it must also say nothing.
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(root / UNIT)], capture_output=True, text=True
    )
    assert verify.returncode == 0 and verify.stderr == verify.stdout == "", verify
    review = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(root / UNIT)],
        capture_output=True,
        text=True,
    )
    level = re.search(r"Overall exposure level for camhub.service: (\d+\.\d+)", review.stdout)
    assert level is not None, review.stdout + review.stderr
    # 0 is a fully locked-down unit and 10 an unprotected one; under 2 systemd says "OK".
    assert float(level.group(1)) < 2.0, review.stdout


def test_systemd_analyze_verify_notices_a_broken_unit(capsys, root):
    # The check above is worth something only if a wrong unit makes it speak up.
    install(capsys, root)
    unit = root / UNIT
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=strickt"))
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    assert "strickt" in verify.stderr


def test_install_makes_the_user_its_data_dir_and_a_starter_config(capsys, root):
    output = install(capsys, root)
    assert "no systemctl was run" in output
    user = passwd_entry(root, "camhub")
    uid, gid = int(user[2]), int(user[3])
    assert user[5:] == ["/var/lib/camhub", "/usr/sbin/nologin"]
    assert uid < 1000  # a system user
    data = (root / "var/lib/camhub").stat()
    assert (data.st_uid, data.st_gid, stat.S_IMODE(data.st_mode)) == (uid, gid, 0o700)
    for shared in (UNIT, "etc/sysusers.d/camhub.conf"):
        assert stat.S_IMODE((root / shared).stat().st_mode) == 0o644
    # The service reads its config but cannot change it; other users cannot read it.
    config_dir = (root / "etc/camhub").stat()
    assert (config_dir.st_uid, config_dir.st_gid, stat.S_IMODE(config_dir.st_mode)) == (
        0,
        gid,
        0o750,
    )
    config = root / "etc/camhub/config.yaml"
    assert (config.stat().st_uid, config.stat().st_gid, stat.S_IMODE(config.stat().st_mode)) == (
        0,
        gid,
        0o640,
    )
    loaded = load_config(config).config
    assert loaded.storage.path == "/var/lib/camhub" and loaded.server.host is None
    assert loaded.cameras == {} and loaded.server.port == 8470
    code, output = camhub(capsys, "check-config", str(config))
    assert code == 0, output
    assert (root / "etc/sysusers.d/camhub.conf").read_text().startswith("u camhub - ")


def test_a_second_install_keeps_the_config_and_follows_its_storage_path_and_port(capsys, root):
    install(capsys, root)
    config = root / "etc/camhub/config.yaml"
    text = (
        config.read_text()
        .replace("path: /var/lib/camhub", "path: /mnt/usb/camhub")
        .replace("port: 8470", "port: 80")
    )
    config.write_text(text)
    install(capsys, root)
    assert config.read_text() == text
    unit = unit_settings(root)
    assert unit["ReadWritePaths"] == unit["RequiresMountsFor"] == ["/mnt/usb/camhub"]
    assert unit["ExecStart"][0].endswith("--data /mnt/usb/camhub")
    # Port 80 is privileged: the one capability the unit then keeps.
    assert unit["CapabilityBoundingSet"] == unit["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]
    uid = int(passwd_entry(root, "camhub")[2])
    assert (root / "mnt/usb/camhub").stat().st_uid == uid
    # The service user walks through the new parents to its folder.
    assert stat.S_IMODE((root / "mnt/usb").stat().st_mode) == 0o755
    # The same user, not a second one.
    assert sum(line.startswith("camhub:") for line in (root / "etc/passwd").open()) == 1


def test_data_given_on_the_command_line_must_agree_with_the_config(capsys, root):
    install(capsys, root, "--data", "/srv/cams")
    assert load_config(root / "etc/camhub/config.yaml").config.storage.path == "/srv/cams"
    assert unit_settings(root)["ReadWritePaths"] == ["/srv/cams"]
    code, output = camhub(
        capsys, "service", "install", "--root", str(root), "--exec", str(CAMHUB), "--data", "/x"
    )
    assert code == 1
    assert "--data /x differs from storage.path in /etc/camhub/config.yaml (/srv/cams)" in output


def test_footage_someone_else_recorded_is_handed_to_the_service_user(capsys, root):
    old = root / "var/lib/camhub/footage/demo/old.mp4"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"\0\0\0\x18ftypisom")
    os.chown(old, 1234, 1234)
    os.chown(old.parent, 1234, 1234)
    install(capsys, root)
    uid = int(passwd_entry(root, "camhub")[2])
    assert old.stat().st_uid == old.parent.stat().st_uid == uid
    assert old.read_bytes() == b"\0\0\0\x18ftypisom"


def test_a_given_config_is_copied_with_its_secrets(capsys, root, write_config):
    given = write_config(
        "storage:\n  path: /srv/camhub-footage\ncameras:\n  door:\n"
        "    url: rtsp://admin:${DOOR_PASSWORD:-x}@192.0.2.10/stream1\n",
        secrets="door: hunter2\n",
    )
    install(capsys, root, "--config", str(given))
    assert (root / "etc/camhub/config.yaml").read_text() == given.read_text()
    secrets = root / "etc/camhub/secrets.yaml"
    assert secrets.read_text() == "door: hunter2\n"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o640
    assert unit_settings(root)["ReadWritePaths"] == ["/srv/camhub-footage"]
    # Another file later is refused rather than silently replacing the service's config.
    shutil.copy(given, given.with_name("other.yaml"))
    other = given.with_name("other.yaml")
    other.write_text(given.read_text().replace("door", "gate"))
    code, output = camhub(capsys, "service", "install", "--root", str(root), "--config", str(other))
    assert code == 1
    assert f"/etc/camhub/config.yaml exists and differs from {other}" in output


def test_a_config_with_a_mistake_is_refused_with_its_line(capsys, root, write_config):
    given = write_config("server:\n  port: 8470\n  hots: 0.0.0.0\n")
    code, output = camhub(capsys, "service", "install", "--root", str(root), "--config", str(given))
    assert code == 1
    assert "config.yaml:3: server.hots: unknown key" in output
    assert not (root / UNIT).exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--exec", "/home/pi/camhub/bin/camhub"],
            "camhub is installed under /home/pi/camhub, a home directory the service cannot read",
        ),
        (["--exec", "/nonexistent/camhub"], "/nonexistent/camhub is not an executable camhub"),
        (["--data", "/var"], "/var cannot be the data dir"),
        (["--data", "/home/pi/footage"], "/home/pi/footage cannot be the data dir"),
    ],
)
def test_places_the_service_cannot_use_are_refused(capsys, root, extra, message):
    code, output = camhub(
        capsys, "service", "install", "--root", str(root), "--exec", str(CAMHUB), *extra
    )
    assert code == 1 and message in output, output
    assert not (root / UNIT).exists()


def test_uninstall_removes_the_unit_and_keeps_config_data_and_user(capsys, root):
    install(capsys, root)
    code, output = camhub(capsys, "service", "uninstall", "--root", str(root))
    assert code == 0, output
    assert "service stopped, disabled and removed" in output
    assert not (root / UNIT).exists()
    assert (root / "etc/camhub/config.yaml").is_file()
    assert (root / "var/lib/camhub").is_dir()
    assert passwd_entry(root, "camhub")
    code, output = camhub(capsys, "service", "uninstall", "--root", str(root))
    assert code == 0 and "no service was installed" in output


def test_the_service_commands_are_in_the_help():
    done = subprocess.run([str(CAMHUB), "--help"], capture_output=True, text=True, timeout=60)
    assert "service" in done.stdout
    done = subprocess.run(
        [str(CAMHUB), "service", "install", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "--root DIR" in done.stdout and "--no-start" in done.stdout
