"""Browser test fixtures: real `camhub run` processes on 127.0.0.1 and one Debian chromium.

Chromium is launched once per session, from /usr/bin/chromium (never a Playwright
download), with every flag that keeps it on this machine: the host-resolver rule sends
any name other than 127.0.0.1 nowhere, so the browser cannot resolve or reach the
internet even if a page asked it to.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.extensions.manager import DISABLE_AUTOLOAD_ENV
from tests.conftest import REPO, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    # Mandatory: without it chromium resolves names (and so sends DNS) off the machine.
    # 127.0.0.2 is loopback too: the tests that reach the hub at "another address" use it.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE 127.0.0.2",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
ADMIN = ("admin", "correct horse battery")
# The figure walks for 4 s every 14 s, first at 3 s: events come soon and end soon.
DEMO_URL = "demo://?period=14&walk=4&first=3"


@dataclass
class RunningHub:
    """A `camhub run` process and where to reach it."""

    url: str
    data: Path
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, method: str, path: str, body: object | None = None) -> tuple[int, object]:
        """A plain (unauthenticated) JSON request, for setting up state."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def start_hub(directory: Path, config: str | None, host: str | None = "127.0.0.1") -> RunningHub:
    """`camhub run` on a free port; `host=None` leaves the default (every address).

    `config=None` runs with no config file at all: the embedded default a first run gets
    (the demo camera, detection on), with the port and address given on the command line.
    """
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    arguments = ["--data", str(directory / "data")]
    if config is None:
        arguments += ["--port", str(port)] + (["--host", host] if host else [])
    else:
        path = directory / "config.yaml"
        listen = f"  host: {host}\n" if host else ""
        path.write_text(f"server:\n{listen}  port: {port}\n{config}", encoding="utf-8")
        arguments += ["--config", str(path)]
    log = directory / "camhub.log"
    camhub = Path(sys.executable).with_name("camhub")
    command = [str(camhub)] if camhub.exists() else [sys.executable, "-m", "hub.cli"]
    env = {**os.environ, DISABLE_AUTOLOAD_ENV: "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "run", *arguments],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    hub = RunningHub(f"http://127.0.0.1:{port}", directory / "data", process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"camhub exited early:\n{log.read_text()}")
        try:
            status, body = hub.api("GET", "/api/health")
            # The port opens before the hub has started: wait for "ok".
            if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
                return hub
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"camhub did not answer in 30 s:\n{log.read_text()}")


SETUP_CODE = re.compile(r"first-run setup code: ([A-Z0-9]{4}(?:-[A-Z0-9]{4})+)")


def setup_code(hub: RunningHub) -> str:
    """The one-time setup code, read where a person reads it: the output of `camhub run`."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = SETUP_CODE.search(hub.log.read_text(errors="replace"))
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no setup code printed:\n{hub.log.read_text()}")


def create_admin(hub: RunningHub) -> None:
    """First-run setup through the API, with the code from the log."""
    body = {"username": ADMIN[0], "password": ADMIN[1], "code": setup_code(hub)}
    status, answer = hub.api("POST", "/api/auth/setup", body)
    assert status == 201, answer


def stop_hub(hub: RunningHub) -> None:
    hub.process.terminate()
    try:
        hub.process.wait(10)
    except subprocess.TimeoutExpired:
        hub.process.kill()
        hub.process.wait(5)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless chromium per test module.

    Not per session: Playwright's sync API keeps its own event loop running on this thread
    while it is started, and the asyncio tests that follow the browser modules need the
    thread to themselves again.
    """
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium (scripts/test-packages.txt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def demo_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub with the demo camera (motion and person events, recording around them) and an admin;
    per module, so its camera stops using CPU when the module's tests are done."""
    config = f"""
cameras:
  yard:
    name: Yard
    url: "{DEMO_URL}"
    detect:
      fps: 5
    motion:
      end_after: 1
    record:
      mode: events
      pre_seconds: 1
      post_seconds: 1
      segment_seconds: 2
notifiers:
  phone:
    type: log
"""
    hub = start_hub(tmp_path_factory.mktemp("demo-hub"), config)
    create_admin(hub)
    yield hub
    stop_hub(hub)


@pytest.fixture
def bare_hub(tmp_path: Path) -> Iterator[RunningHub]:
    """A fresh hub with no camera and no user yet (first run)."""
    hub = start_hub(tmp_path / "bare-hub", "cameras: {}\n")
    yield hub
    stop_hub(hub)


@pytest.fixture
def make_page(browser):
    """New browser pages (own cookies) at a size; screenshots land in test-artifacts/."""
    contexts = []

    def make(base_url: str, width: int = 1280, height: int = 800, **options):
        context = browser.new_context(
            base_url=base_url, viewport={"width": width, "height": height}, **options
        )
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    """Save a screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, username: str = ADMIN[0], password: str = ADMIN[1]) -> None:
    """Sign in through the login form."""
    page.goto("/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("account-name").wait_for()
