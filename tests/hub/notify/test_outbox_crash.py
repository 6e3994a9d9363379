"""A real `camhub run` killed with a notification undelivered: after a restart it arrives once."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import free_port
from tests.helpers import wait_for_line, wait_until

CAMHUB = str(Path(sys.executable).with_name("camhub"))
PASSWORD = "correct horse battery"


def start_hub(config: Path, data: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [CAMHUB, "run", "--config", str(config), "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_line(process, "panel at", 30)
    return process


def where(config: Path, data: Path) -> list[str]:
    return ["--config", str(config), "--data", str(data)]


def add_admin(config: Path, data: Path) -> None:
    subprocess.run(
        [CAMHUB, "user", "add", "owner", "--role", "admin", *where(config, data)],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


def post_signed_in(base: str, path: str) -> dict:
    """Log in as the admin like a script would, then POST with the CSRF token."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    login = urllib.request.Request(
        f"{base}/api/auth/login",
        method="POST",
        data=json.dumps({"username": "owner", "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with opener.open(login, timeout=5) as response:
        token = json.load(response)["csrf_token"]
    request = urllib.request.Request(
        f"{base}{path}", method="POST", data=b"", headers={"X-CSRF-Token": token}
    )
    with opener.open(request, timeout=5) as response:
        assert response.status == 202
        return json.load(response)


def attempts(data: Path, message_id: str) -> int:
    with sqlite3.connect(data / "camhub.db") as db:
        row = db.execute("select attempts from notifications where id = ?", [message_id]).fetchone()
    return int(row[0]) if row else 0


def row_state(data: Path, message_id: str) -> str:
    with sqlite3.connect(data / "camhub.db") as db:
        return db.execute("select state from notifications where id = ?", [message_id]).fetchone()[
            0
        ]


async def test_kill_9_with_an_undelivered_message_then_restart_delivers_it_once(tmp_path):
    receiver_port, hub_port = free_port(), free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"server:\n  port: {hub_port}\n"
        f"notifiers:\n  hook:\n    type: webhook\n    url: http://127.0.0.1:{receiver_port}/hook\n"
    )
    data = tmp_path / "data"
    add_admin(config, data)
    first = start_hub(config, data)
    try:
        # The receiver is down: the message stays in the outbox, waiting to be retried.
        message_id = await asyncio.to_thread(
            post_signed_in, f"http://127.0.0.1:{hub_port}", "/api/notifiers/hook/test"
        )
        message_id = message_id["id"]
        # Stored before the request was answered; tried once, it waits for its retry.
        await wait_until(
            lambda: row_state(data, message_id) == "pending" and attempts(data, message_id) >= 1,
            10,
            "the first attempt",
        )
    finally:
        first.send_signal(signal.SIGKILL)  # a crash: no clean stop
        first.communicate(timeout=10)

    received: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(request.headers["X-Camhub-Id"])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    receiver = TestServer(app, host="127.0.0.1", port=receiver_port)
    await receiver.start_server()
    second = start_hub(config, data)
    try:
        await wait_until(lambda: row_state(data, message_id) == "delivered", 10, "the delivery")
    finally:
        # A clean stop ends every send under way: a duplicate, were one to come, is in by now.
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=10)
        await receiver.close()
    assert received == [message_id]
