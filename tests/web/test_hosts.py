"""DNS rebinding: requests naming a host the hub does not serve are refused before any route."""

from __future__ import annotations

import socket

import ifaddr
import pytest

from tests.web_clients import PASSWORD
from web.hosts import HostGuard, host_name
from web.keys import HUB_KEY

PROXIED = "server:\n  allowed_hosts: [cams.example.org, '*.home.example']\n"


def machine_ips() -> list[str]:
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                found.append(ip.ip)
            elif not ip.ip[0].startswith("fe80"):
                found.append(f"[{ip.ip[0]}]")
    return found


async def status_for(client, host: str, path: str = "/api/health", method: str = "GET") -> int:
    async with client.request(method, path, headers={"Host": host}) as response:
        return response.status


async def test_a_fresh_hub_refuses_setup_through_a_rebound_name(make_api_client):
    client = await make_api_client(role=None)
    hub = client.app[HUB_KEY]
    port = client.port
    # Even with the setup code (a guess, or read over a shoulder), only the hub's own names.
    assert (await (await client.get("/api/auth/setup")).json())["needed"] is True
    body = {"username": "mallory", "password": PASSWORD, "code": hub.setup_code.issued}
    assert body["code"] is not None
    # The attacker's page: its own name resolved to the hub, its Origin matching that name.
    forged = {
        "Host": f"rebind.attacker.example:{port}",
        "Origin": f"http://rebind.attacker.example:{port}",
    }
    answer = await client.post("/api/auth/setup", json=body, headers=forged)
    assert answer.status == 421
    assert (await client.get("/api/auth/setup", headers=forged)).status == 421
    # A right Host with a foreign Origin is refused too (no CSRF token exists yet).
    foreign = {"Origin": "http://attacker.example"}
    assert (await client.post("/api/auth/setup", json=body, headers=foreign)).status == 403
    assert (
        await client.post("/api/auth/setup", json=body, headers={"Origin": "null"})
    ).status == 403
    assert (await (await client.get("/api/auth/setup")).json())["needed"] is True
    assert await hub.audit.async_query(action="user.setup") == []
    # The owner, on the machine's own address and with its own Origin, still can.
    own = {"Origin": f"http://127.0.0.1:{port}"}
    assert (await client.post("/api/auth/setup", json=body, headers=own)).status == 201


async def test_every_route_refuses_hosts_it_does_not_serve(make_api_client, caplog):
    admin = await make_api_client()
    for path in ("/api/health", "/", "/static/app.js", "/api/cameras", "/api/nowhere"):
        assert await status_for(admin, "evil.example", path) == 421, path
    assert await status_for(admin, "evil.example:8470", "/api/users", "POST") == 421
    assert await status_for(admin, "[2001:db8::1]:8470") == 421
    assert await status_for(admin, "203.0.113.9") == 421
    assert await status_for(admin, "localhost.evil.example") == 421
    assert await status_for(admin, "not a host!") in (400, 421)
    assert "evil.example" in caplog.text and "server.allowed_hosts" in caplog.text


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:8470",
        "127.9.9.9",
        "localhost",
        "LOCALHOST:8470",
        "localhost.",
        "camhub.localhost",
        "[::1]:8470",
        "[::ffff:127.0.0.1]",
    ],
)
async def test_loopback_names_and_addresses_are_served(api_client, host):
    assert await status_for(api_client, host) == 200
    assert await status_for(api_client, host, "/api/users") == 200


async def test_the_machines_own_names_and_addresses_are_served(api_client):
    hostname = socket.gethostname().lower()
    names = {hostname, f"{hostname.split('.')[0]}.local", *machine_ips()}
    for name in names:
        assert await status_for(api_client, f"{name}:8470") == 200, name


async def test_allowed_hosts_serve_a_reverse_proxy(make_api_client):
    admin = await make_api_client(config=PROXIED)
    for host in ("cams.example.org", "CAMS.example.org.", "a.home.example", "x.y.home.example"):
        assert await status_for(admin, host, "/api/users") == 200, host
    for host in ("home.example", "evilhome.example", "cams.example.org.evil.example"):
        assert await status_for(admin, host) == 421, host


def test_server_host_is_served_and_new_interface_addresses_are_found():
    now = [0.0]
    addresses = {"192.0.2.10"}
    guard = HostGuard(
        "198.51.100.7",
        [],
        addresses=lambda: set(addresses),
        names=lambda: {"pi"},
        clock=lambda: now[0],
    )
    assert guard.allows("198.51.100.7") and guard.allows("192.0.2.10") and guard.allows("pi")
    addresses.add("192.0.2.11")  # DHCP gave the machine another address
    assert not guard.allows("192.0.2.11")  # looked up at most every few seconds...
    now[0] += 30
    assert guard.allows("192.0.2.11")  # ...then found
    assert not guard.allows("192.0.2.12")
    assert not HostGuard("0.0.0.0", addresses=set, names=set).allows("0.0.0.0")


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Example.ORG:80", "example.org"),
        ("[fe80::1%25eth0]:8470", "fe80::1"),
        ("[::1]", "::1"),
        ("host.:1", "host"),
        ("[::1]junk", None),
        ("a:b", None),
        ("", None),
    ],
)
def test_host_names_are_read_like_a_browser_sends_them(header, name):
    assert host_name(header) == name
