"""The systemd unit, sysusers line and starter config that `camhub service install` writes.

Pure text, no side effects: hub/cli/service.py decides where they go.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

SERVICE_NAME = "camhub"
SERVICE_USER = "camhub"
UNIT_PATH = Path("/etc/systemd/system/camhub.service")
SYSUSERS_PATH = Path("/etc/sysusers.d/camhub.conf")
CONFIG_DIR = Path("/etc/camhub")
CONFIG_PATH = CONFIG_DIR / "config.yaml"
DATA_DIR = Path("/var/lib/camhub")
# Ports below this need CAP_NET_BIND_SERVICE, the one capability the unit may then keep.
FIRST_UNPRIVILEGED_PORT = 1024


@dataclass(frozen=True)
class UnitSettings:
    """What varies between installs; every path as the target system sees it."""

    executable: Path
    config: Path
    data_dir: Path
    port: int
    user: str = SERVICE_USER


def sysusers_line(settings: UnitSettings) -> str:
    """systemd-sysusers: a system user and group, home in the data dir, no login shell."""
    return f'u {settings.user} - "camhub IP camera hub" {settings.data_dir} /usr/sbin/nologin\n'


def _quoted(path: Path) -> str:
    # systemd splits command lines like a shell does for simple quoting.
    return shlex.quote(str(path))


def unit_text(settings: UnitSettings) -> str:
    """The service unit: restart on failure, and every hardening option the hub can live with."""
    command = (
        f"{_quoted(settings.executable)} run --config {_quoted(settings.config)} "
        f"--data {_quoted(settings.data_dir)}"
    )
    privileged = settings.port < FIRST_UNPRIVILEGED_PORT
    capabilities = "CAP_NET_BIND_SERVICE" if privileged else ""
    return f"""\
# Written by `camhub service install`; run it again after changing storage.path or
# server.port in {settings.config} (it rewrites this file), `camhub service uninstall`
# removes it. Logs: journalctl -u {SERVICE_NAME}
[Unit]
Description=camhub, the self-hosted hub for home IP cameras
Documentation=https://example.invalid/camhub
Wants=network-online.target
After=network-online.target time-sync.target
# A data dir on a USB disk: wait for it, and never record onto the SD card beneath it.
RequiresMountsFor={settings.data_dir}

[Service]
Type=simple
User={settings.user}
Group={settings.user}
ExecStart={command}
# SIGTERM finalises the open segments and flushes the database within 5 s.
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure
RestartSec=5
# What the hub writes is its own (camhub sets the same umask itself).
UMask=0077

# Hardening: the hub needs its data dir, the network and nothing else.
ReadWritePaths={settings.data_dir}
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
NoNewPrivileges=yes
CapabilityBoundingSet={capabilities}
AmbientCapabilities={capabilities}
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
# Not ProcSubset=pid: ONNX Runtime reads /proc/cpuinfo to pick its ARM kernels.
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
# Netlink: the interface list for discovery (ifaddr, zeroconf).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
"""


def starter_config(data_dir: Path) -> str:
    """The config a new service starts with: no camera yet (the panel adds them), on the LAN."""
    return f"""\
# camhub's configuration as a service (written by `camhub service install`).
# Every key: config.example.yaml and docs/configuration.md of camhub. After an edit:
#   sudo -u camhub camhub check-config {CONFIG_PATH}
#   sudo systemctl restart camhub
server:
  # Every address of this machine (phones on the home network reach the panel); set
  # host: 127.0.0.1 to keep it to this machine.
  port: 8470
storage:
  # Footage and the database. On a Raspberry Pi, point this at a USB disk (not the SD
  # card), then run `sudo camhub service install` again so the service may write there.
  path: {data_dir}
  # Below this much free space the oldest footage is deleted first.
  min_free_gb: 2
# Cameras added in the panel are kept in the data dir; you may also list them here.
cameras: {{}}
notifiers:
  # Notifications show up live in the panel.
  panel:
    type: panel
"""
