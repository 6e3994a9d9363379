"""The `webhook` automation action calls a real HTTP server on loopback."""

from __future__ import annotations

import json

from aiohttp import web

from hub.events import Context
from tests.hub.automations.conftest import wait_traces


async def receiver():
    got: list[tuple[str, dict, bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        got.append((request.method, dict(request.headers), await request.read()))
        status = 500 if request.path == "/broken" else 200
        return web.Response(status=status, text="thanks")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port, got


CONFIG = """\
automations:
  - id: a
    variables:  # "run now" below passes its own
      camera: ""
      label: ""
    triggers:
      - type: webhook
        webhook_id: http-action-test-0123456789
    actions:
      - type: webhook
        url: http://127.0.0.1:{port}/hook
        headers:
          Authorization: Bearer t0ken
      - type: webhook
        url: http://127.0.0.1:{port}/broken
        method: PUT
        body: "{{label}} at {{camera}} {{camera.__class__}}"
      - type: webhook
        url: http://127.0.0.1:{port}/after
        method: GET
"""


async def test_webhook_action_posts_json_and_reports_http_errors(make_hub):
    runner, port, got = await receiver()
    hub = make_hub(CONFIG.format(port=port))
    await hub.async_start()
    try:
        hub.automations.async_run("a", {"camera": "porch", "label": "person"}, False, Context())
        [trace] = await wait_traces(hub, "a", 1)
        assert len(got) == 3  # the run awaited each request's answer
        (m1, h1, b1), (m2, _, b2), (m3, _, b3) = got
        assert (m1, h1["Authorization"], h1["Content-Type"]) == (
            "POST", "Bearer t0ken", "application/json",
        )  # fmt: skip
        sent = json.loads(b1)
        assert sent["camera"] == "porch" and sent["label"] == "person"
        assert sent["automation"] == "a" and sent["context_id"] == trace["context_id"]
        assert (m2, b2) == ("PUT", b"person at porch {camera.__class__}")
        assert (m3, b3) == ("GET", b"")
        assert [s["state"] for s in trace["steps"]] == ["done", "error", "done"]
        assert trace["steps"][0]["result"] == {"status": 200, "response": "thanks"}
        assert trace["steps"][1]["error"].startswith("RuntimeError: HTTP 500")
        issues = hub.automations.validate(
            {
                "id": "b",
                "triggers": [{"type": "mode"}],
                "actions": [{"type": "webhook", "url": "ftp://x"}],
            }
        )
        assert [(i.path, i.message) for i in issues] == [
            ("actions[0].url", "must be an http:// or https:// URL")
        ]
    finally:
        await hub.async_stop()
        await runner.cleanup()
