"""Message templates: placeholders fill in, anything else (injection included) stays literal."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from hub.automations.templates import render

PARIS = ZoneInfo("Europe/Paris")
NOW = 1717416000.0  # 2024-06-03 14:00 in Paris
VARIABLES = {
    "camera": "porch",
    "label": "person",
    "zone": "steps",
    "score": 0.8712,
    "zones": ["a", "b"],
}


def test_placeholders_and_time_formats():
    text = "{label} on the {camera} ({zone}, {score}) at {time:%H:%M} {time} {zones}"
    assert render(text, VARIABLES, NOW, PARIS) == (
        "person on the porch (steps, 0.87) at 14:00 14:00 a, b"
    )
    assert render("{time:%Y-%m-%d %A}", {}, NOW, PARIS) == "2024-06-03 Monday"
    assert render("{{camera}} {missing}", VARIABLES, NOW, PARIS) == "{camera} {missing}"


@pytest.mark.parametrize(
    "template",
    [
        "{camera.__class__}",
        "{camera.__class__.__mro__[1].__subclasses__()}",
        "{label[0]}",
        "{0}",
        "{}",
        "{camera!r}",
        "{camera:>99999999}",
        "{__import__('os').system('id')}",
        "{time:%H%n}",
        "{time.__class__}",
        "{ camera }",
    ],
)
def test_injection_attempts_render_literally(template):
    assert render(template, VARIABLES, NOW, PARIS) == template


def test_values_are_not_templates_themselves():
    variables = {"camera": "{label}", "label": "x"}
    assert render("{camera}", variables, NOW, PARIS) == "{label}"


def test_output_is_bounded():
    variables = {"camera": "x" * 10_000}
    assert len(render("{camera}" * 100, variables, NOW, PARIS)) <= 4000
