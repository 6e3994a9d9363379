"""The panel's URLs as `camhub run` prints them: LAN addresses first, the mDNS name next,
loopback last; IPv6 in brackets; only the families actually bound."""

from __future__ import annotations

import socket

import pytest

from web.addresses import ALL_IPV4, ALL_IPV6, listen_hosts, panel_urls

MACHINE = ["192.168.1.20", "10.8.0.2", "fd00::5", "127.0.0.1"]


@pytest.fixture(autouse=True)
def hostname(monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "garden-pi")


def test_every_address_is_listened_on_unless_narrowed():
    assert listen_hosts(None) == [ALL_IPV4, ALL_IPV6]
    assert listen_hosts("127.0.0.1") == ["127.0.0.1"]


def test_wildcards_list_the_lan_first_then_the_mdns_name_then_loopback():
    urls = panel_urls([ALL_IPV4, ALL_IPV6], 8470, addresses=MACHINE)
    assert urls == [
        "http://192.168.1.20:8470",
        "http://garden-pi.local:8470",
        "http://10.8.0.2:8470",
        "http://[fd00::5]:8470",
        "http://127.0.0.1:8470",
    ]
    # IPv4 only (a machine without IPv6, or host 0.0.0.0): no IPv6 URL.
    assert "http://[fd00::5]:8470" not in panel_urls([ALL_IPV4], 8470, addresses=MACHINE)


def test_one_address_is_that_address_and_tls_says_https():
    assert panel_urls(["127.0.0.1"], 9000) == ["http://127.0.0.1:9000"]
    assert panel_urls(["::1"], 9000, tls=True) == ["https://[::1]:9000"]


def test_no_mdns_name_without_a_lan_address():
    assert panel_urls([ALL_IPV4], 8470, addresses=["127.0.0.1"]) == ["http://127.0.0.1:8470"]
