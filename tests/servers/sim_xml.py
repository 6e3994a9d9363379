"""Namespace-blind XML reading shared by the ONVIF simulator's services."""

from __future__ import annotations

from xml.etree.ElementTree import Element


def local(tag: str) -> str:
    """A tag without its `{namespace}`."""
    return tag.rsplit("}", 1)[-1]


def child(element: Element | None, name: str) -> Element | None:
    """The first child called `name` in any namespace, or None."""
    if element is None:
        return None
    return next((c for c in element if local(c.tag) == name), None)


def text(element: Element | None) -> str:
    """An element's stripped text ('' when absent)."""
    return (element.text or "").strip() if element is not None else ""
