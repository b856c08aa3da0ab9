"""The served /openapi.json is spec/openapi.json (problem responses and summaries included)."""

from __future__ import annotations

import json
from pathlib import Path

from keyserver._http.app import create_app
from tests.support.world import World

SPEC = Path(__file__).resolve().parents[2] / "spec" / "openapi.json"


def test_served_document_is_the_spec(world: World) -> None:
    resp = world.call(None, "GET", "/openapi.json")
    assert resp.status_code == 200
    served = resp.json()
    assert served == json.loads(SPEC.read_text(encoding="utf-8"))
    evaluate = served["paths"]["/v1/containers/{container_id}/evaluate"]["post"]
    assert evaluate["summary"] == "Evaluate a blinded element"
    assert "422" not in evaluate["responses"]
    assert "urn:rwc:problem:not-allowed" in evaluate["responses"]["403"]["description"]
    assert "Problem" in served["components"]["schemas"]


def test_document_is_built_once(world: World) -> None:
    app = create_app(world.settings)
    try:
        first = app.openapi()
        assert app.openapi() is first  # cached: built once, no recursion
    finally:
        app.state.service.close()
