"""spec/openapi.json is the app's document: regenerated and diffed, summaries, problems."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keyserver._http.openapi_problems import OPERATIONS, PUBLIC_OPERATIONS, STATUS
from spec import openapi

SPEC = Path(__file__).resolve().parents[2] / "spec"


@pytest.fixture(scope="module")
def generated() -> str:
    return str(openapi.render())


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]


def test_checked_in_document_is_current(generated: str) -> None:
    checked_in = (SPEC / "openapi.json").read_text(encoding="utf-8")
    assert checked_in == generated, "spec/openapi.json is stale: run python spec/openapi.py"


def test_generator_is_deterministic(generated: str) -> None:
    assert openapi.render() == generated
    assert (
        json.dumps(json.loads(generated), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
        == generated
    )


def test_check_mode_detects_a_stale_file(tmp_path: Path, capsys: Any) -> None:
    generator = openapi
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    assert generator.main(["--check", "--output", str(stale)]) == 1
    assert "is stale" in capsys.readouterr().err
    assert generator.main(["--output", str(stale)]) == 0
    assert generator.main(["--check", "--output", str(stale)]) == 0
    # And as the script a developer runs.
    proc = subprocess.run(
        [sys.executable, str(SPEC / "openapi.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_route_has_a_summary_and_its_problems(generated: str) -> None:
    doc = json.loads(generated)
    ops = _operations(doc)
    assert {(m, p) for m, p, _ in ops} == set(OPERATIONS)  # no route missing, none stale
    for method, path, op in ops:
        assert op.get("summary"), f"{method} {path} has no summary"
        responses = op["responses"]
        assert "422" not in responses, f"{method} {path}: the server answers 400, never 422"
        for slug in OPERATIONS[(method, path)]:
            status = str(STATUS[slug])
            assert f"urn:rwc:problem:{slug}" in responses[status]["description"]
            schema = responses[status]["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}
        if path.startswith("/v1/") and (method, path) not in PUBLIC_OPERATIONS:
            assert {"400", "401", "403", "503"} <= set(responses), f"{method} {path}"
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status"]


def test_protocol_mentions_every_route(generated: str) -> None:
    protocol = (SPEC / "protocol.md").read_text(encoding="utf-8")
    for method, path, _ in _operations(json.loads(generated)):
        if path.startswith("/v1/"):
            needle = path.replace("{container_id}", "{id}")
            assert needle.split("/{op}")[0] in protocol, f"{method} {path} not in protocol.md"
