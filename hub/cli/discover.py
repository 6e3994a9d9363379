"""`camhub discover`: scan the LAN, and with credentials list each ONVIF device's streams."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import json
import sys
from pathlib import Path
from typing import Any

from hub import hookspecs
from hub.cameras.discovery import DeviceProbe, DiscoveredDevice, configured_hosts, device_view
from hub.cameras.discovery import onvif_service_url as onvif_url
from hub.config.loading import LoadedConfig
from hub.config.yaml_source import MIN_SECRET_LENGTH
from hub.core import Hub
from hub.network import ipv4_addresses

MAX_TIMEOUT = 300.0


def _timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seconds, e.g. 5 (got {text!r})") from None
    if not 0 < seconds <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"more than 0 and at most {MAX_TIMEOUT:g} seconds (got {text})"
        )
    return seconds


def _interface(text: str) -> str:
    """An IPv4 address this machine has: probes are sent from it."""
    try:
        address = str(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"an IPv4 address, e.g. 192.168.1.20 (got {text!r})"
        ) from None
    mine = ipv4_addresses()
    if address not in mine:
        raise argparse.ArgumentTypeError(
            f"{address} is not an address of this machine (it has: {', '.join(mine) or 'none'})"
        )
    return address


def add_discover_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """The `discover` sub-command and its options."""
    discover = commands.add_parser("discover", parents=[common], help="find cameras on the LAN")
    discover.add_argument(
        "--timeout",
        type=_timeout,
        default=5.0,
        metavar="S",
        help=f"seconds to listen for answers, more than 0 and at most {MAX_TIMEOUT:g} (5)",
    )
    discover.add_argument("--json", action="store_true", help="machine-readable output")
    discover.add_argument(
        "--interface",
        type=_interface,
        action="append",
        dest="interfaces",
        metavar="ADDR",
        help="IPv4 address of an interface to scan on (repeatable; default: discovery.interfaces)",
    )
    discover.add_argument("--user", help="log in to ONVIF devices as this user to list streams")
    discover.add_argument(
        "--password", help="password for --user (asked for, or read from stdin, when left out)"
    )


def _with_interfaces(loaded: LoadedConfig, interfaces: list[str] | None) -> LoadedConfig:
    if not interfaces:
        return loaded
    config = loaded.config
    discovery = config.discovery.model_copy(update={"interfaces": interfaces})
    return LoadedConfig(
        config.model_copy(update={"discovery": discovery}),
        loaded.path,
        loaded.secret_values,
        loaded.lines,
    )


def _password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    if sys.stdin.isatty():
        return getpass.getpass(f"Password for {args.user}: ")
    return sys.stdin.readline().rstrip("\n")


async def _scan(
    hub: Hub, timeout: float, user: str | None, password: str
) -> tuple[list[DiscoveredDevice], dict[str, DeviceProbe]]:
    devices = await hub.async_discover(timeout)
    probes: dict[str, DeviceProbe] = {}
    if user is None:
        return devices, probes
    targets = [(d.id, url) for d in devices if (url := onvif_url(d))]
    answers = await asyncio.gather(
        *(
            hub.plugins.async_call_first(
                hookspecs.probe_device, hub=hub, url=url, username=user, password=password
            )
            for _, url in targets
        )
    )
    for (device_id, _), answer in zip(targets, answers, strict=True):
        if isinstance(answer, DeviceProbe):
            probes[device_id] = answer
    return devices, probes


def discover_command(args: argparse.Namespace, loaded: LoadedConfig, data_dir: Path) -> int:
    """Scan, optionally probe, print; exit status 0 even when nothing answered."""
    password = _password(args) if args.user else ""
    hub = Hub(_with_interfaces(loaded, args.interfaces), data_dir)
    if len(password) >= MIN_SECRET_LENGTH:
        hub.redactor.add([password])
    devices, probes = asyncio.run(_scan(hub, args.timeout, args.user, password))
    hosts = configured_hosts(hub)
    if args.json:
        out = []
        for device in devices:
            view = device_view(device, hosts)
            probe = probes.get(device.id)
            view["probe"] = probe.as_dict() if probe else None
            out.append(view)
        print(hub.redactor(json.dumps(out, indent=2)))
        return 0
    if not devices:
        print(f"No devices answered within {args.timeout:g} s.")
    for device in devices:
        print(hub.redactor(_describe(device, probes.get(device.id), hosts)))
    return 0


def _describe(device: DiscoveredDevice, probe: DeviceProbe | None, hosts: dict[str, str]) -> str:
    port = f":{device.port}" if device.port else ""
    props = device.properties
    maker = (probe.manufacturer if probe else "") or props.get("manufacturer", "")
    model = (probe.model if probe else "") or props.get("hardware") or props.get("model", "")
    what = " ".join(part for part in (maker, model) if part) or "unknown model"
    lines = [f"{device.name}  {device.host}{port}  {what}  via {device.source}"]
    camera = hosts.get(device.host.lower())
    if camera:
        lines.append(f"    already configured as camera {camera}")
    service = onvif_url(device)
    if service:
        lines.append(f"    ONVIF: {service}")
    lines += [f"    {url}" for url in device.urls if url != service]
    if probe is not None:
        lines += _profiles(probe)
    return "\n".join(lines)


def _profiles(probe: DeviceProbe) -> list[str]:
    if probe.error:
        return [f"    probe failed: {probe.error}"]
    lines = []
    for profile in probe.profiles:
        size = f"{profile.width}x{profile.height}" if profile.width else "?x?"
        role = (
            " (main)"
            if probe.main and profile.token == probe.main.token
            else " (sub)"
            if probe.sub and profile.token == probe.sub.token
            else ""
        )
        lines.append(f"    profile {profile.name or profile.token}{role}: {size} {profile.codec}")
        if profile.stream_uri:
            lines.append(f"        stream:   {profile.stream_uri}")
        if profile.snapshot_uri:
            lines.append(f"        snapshot: {profile.snapshot_uri}")
    lines += [f"    note: {note}" for note in probe.notes]
    return lines
