"""Small helpers the test modules share: polling, hubs on a temp folder, the segment index."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.bus import Subscription
from hub.config.loading import load_config
from hub.core import Hub
from hub.footage.recordings import RecordingSegment


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition"
) -> None:
    """Poll until `predicate()` is true, or fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met in {timeout} s")
        await asyncio.sleep(0.02)


async def wait_for_state(hub: Hub, entity_id: str, state: str, timeout: float = 20.0) -> dict:
    """Wait for an entity to reach `state`; returns its attributes."""

    def reached() -> bool:
        current = hub.states.get(entity_id)
        return current is not None and current.state == state

    await wait_until(reached, timeout, f"{entity_id} == {state} (now {hub.states.get(entity_id)})")
    current = hub.states.get(entity_id)
    assert current is not None
    return dict(current.attributes)


async def wait_for_row(hub, message_id: str, state: str, timeout: float = 10.0) -> dict:
    """Wait until the message reaches `state` in the delivery log: sends under way are
    waited for with the hub (idle), a retry due later (back-off) on the clock."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await hub.async_block_till_done(timeout)
        row = await hub.outbox.async_get(message_id)
        if row is not None and row["state"] == state:
            return row
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{message_id} not {state} in {timeout} s: {row}")
        await asyncio.sleep(0.02)  # only a retry not yet due is left: its time must pass


async def next_events(subscription: Subscription, count: int = 1, timeout: float = 30.0) -> list:
    """The next `count` events of a bus subscription (made before the work that sends them),
    waiting up to `timeout` s in all: for work paced from outside, like a camera's segments."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    events = []
    while len(events) < count:
        try:
            events.append(await asyncio.wait_for(subscription.get(), deadline - loop.time()))
        except TimeoutError:
            raise AssertionError(
                f"{len(events)} of {count} {subscription.name} events in {timeout} s"
            ) from None
    return events


async def wait_for_sockets(hub: Hub, count: int) -> None:
    """Wait until `count` /api/ws sockets have their bus subscription (the server side
    subscribes after the handshake, so a test publishing right away could be early)."""

    def subscribed() -> int:
        return sum(s.name.startswith("ws:") for s in hub.bus.stats())

    await wait_until(lambda: subscribed() == count, 10, f"{count} live socket(s) subscribed")


def hub_at(folder: Path, text: str) -> Hub:
    """A hub (not started) with `text` as folder/config.yaml and its data in folder/data."""
    config = folder / "config.yaml"
    config.write_text(text)
    return Hub(load_config(config), folder / "data")


async def indexed_segments(folder: Path) -> list[RecordingSegment]:
    """The segments indexed under folder/data, read by a fresh hub (start-up repair included)."""
    hub = hub_at(folder, "{}\n")
    await hub.async_start()
    try:
        return await hub.recordings.async_segments()
    finally:
        await hub.async_stop()


def footage_path(folder: Path, segment: RecordingSegment) -> Path:
    """Where a segment's file is under folder/data."""
    return folder / "data" / "footage" / segment.path


def self_signed_certificate(folder: Path, stem: str) -> tuple[Path, Path]:
    """PEM certificate and key for 127.0.0.1, signed by itself (so also its own CA file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"camhub test {stem}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{stem}.crt", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 20) -> list[str]:
    """Read the process's output until a line holds `needle`; kill it after `timeout` s.

    A hub that prints nothing more would block `readline` for good: the timer kills it
    then, which ends the read, and the test fails with what was printed.
    """
    lines: list[str] = []
    assert process.stdout is not None
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        while line := process.stdout.readline():
            lines.append(line)
            if needle in line:
                return lines
    finally:
        watchdog.cancel()
    process.kill()
    pytest.fail(f"{needle!r} not printed within {timeout} s; got:\n{''.join(lines)}")
