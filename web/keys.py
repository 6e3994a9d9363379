"""Typed application keys shared by the web modules."""

from __future__ import annotations

from aiohttp import web

from hub.core import Hub

HUB_KEY = web.AppKey("hub", Hub)
