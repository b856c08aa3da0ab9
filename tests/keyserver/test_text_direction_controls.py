"""Free text with Unicode direction controls or C1 controls is refused (spec §conventions).

A label with U+202E (right-to-left override) reads reversed on every console page, paper
and terminal that shows it: "report\u202eexe.txt" shows as "reporttxt.exe", and one
container could pose as another in the loss review an official confirms. HTML escaping
leaves such characters alone, so the server refuses them where the text comes in.
"""

from __future__ import annotations

import pytest

from tests.support.world import World

BASE = {"label": "l", "medium": "m", "readers": ["reader"]}


@pytest.mark.parametrize(
    "char", ["\u202e", "\u202d", "\u2066", "\u2069", "\u200f", "\u200e", "\u061c", "\x85", "\x9b"]
)
def test_a_label_with_a_direction_or_c1_control_is_refused(world: World, char: str) -> None:
    resp = world.call("writer", "POST", "/v1/containers", json={**BASE, "label": f"a{char}b"})
    assert resp.status_code == 400, resp.text
    assert resp.json()["type"] == "urn:rwc:problem:invalid-request"


def test_japanese_and_other_scripts_stay_accepted(world: World) -> None:
    for label in ("2022年度 住民税データ", "Café ñ — ½", "שלום", "مرحبا"):
        resp = world.call("writer", "POST", "/v1/containers", json={**BASE, "label": label})
        assert resp.status_code in (200, 201), (label, resp.text)
