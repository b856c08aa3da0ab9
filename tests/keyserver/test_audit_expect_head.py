"""GET /v1/audit/verify?expect_head=SEQ:HASH detects tail truncation remotely (spec §audit).

The truncation is done with plain SQL on the real database (entries deleted and the head
row rolled back), as an attacker with database write access would.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from keyserver._store.engine import make_engine
from tests.support.world import World


def _verify(w: World, **params: str) -> tuple[int, dict[str, Any]]:
    resp = w.call("auditor", "GET", "/v1/audit/verify", params=params)
    return resp.status_code, dict(resp.json())


def test_expect_head_detects_truncation(world: World) -> None:
    code, recorded = _verify(world)
    assert code == 200 and recorded["ok"] is True and recorded["head_seq"] == 7
    head = f"{recorded['head_seq']}:{recorded['head_hash']}"
    code, doc = _verify(world, expect_head=head)
    assert code == 200 and doc["ok"] is True
    engine = make_engine(world.settings)
    try:
        with engine.begin() as conn:
            h6 = conn.execute(text("SELECT hash FROM audit_log WHERE seq = 6")).scalar_one()
            conn.execute(text("DELETE FROM audit_log WHERE seq = 7"))
            conn.execute(text("UPDATE audit_head SET seq = 6, hash = :h"), {"h": h6})
    finally:
        engine.dispose()
    # The rolled-back chain is consistent in itself ...
    code, doc = _verify(world)
    assert code == 200 and doc["ok"] is True and doc["head_seq"] == 6
    # ... but not with the head recorded earlier.
    code, doc = _verify(world, expect_head=head)
    assert code == 200 and doc["ok"] is False and doc["first_bad_seq"] == 7
    assert "truncated" in doc["problem"]


def test_expect_head_with_another_hash_fails(world: World) -> None:
    _, recorded = _verify(world)
    code, doc = _verify(world, expect_head=f"3:{recorded['head_hash']}")
    assert code == 200 and doc["ok"] is False and doc["first_bad_seq"] == 3


def test_expect_head_malformed(world: World, subtests: pytest.Subtests) -> None:
    zeros = "0" * 64
    for bad in (
        "",
        "7",
        "7:",
        ":" + zeros,
        "0:" + zeros,
        "-1:" + zeros,
        "7:" + zeros[1:],
        "7:" + "g" * 64,
        "x:" + zeros,
        "\u0663:" + zeros,
        "9" * 19 + ":" + zeros,
    ):
        with subtests.test(msg=repr(bad)):
            code, doc = _verify(world, expect_head=bad)
            assert code == 400 and doc["type"] == "urn:rwc:problem:invalid-request", bad


def test_verify_in_pages_from_a_verified_head(world: World) -> None:
    """``from_head`` + ``limit``: pages that continue from each other reach the head."""
    _, whole = _verify(world)
    start: str | None = None
    pages = []
    while True:
        params = {"limit": "3"} if start is None else {"limit": "3", "from_head": start}
        code, page = _verify(world, **params)
        assert code == 200 and page["ok"] is True, page
        pages.append((page["from_seq"], page["entries"], page["complete"]))
        start = f"{page['head_seq']}:{page['head_hash']}"
        if page["complete"]:
            break
    assert pages == [(0, 3, False), (3, 3, False), (6, 1, True)]
    assert start == f"{whole['head_seq']}:{whole['head_hash']}"
    # A truncated tail shows on the page that reaches the head, with expect_head on every
    # page as the command sends it.
    code, doc = _verify(world, limit="3", from_head=start, expect_head=start)
    assert code == 200 and doc["ok"] is True and doc["entries"] == 0 and doc["complete"]


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "200001"}, {"from_head": "0:" + "0" * 64}, {"from_head": "7:ab"}],
)
def test_bad_page_parameters_are_refused(world: World, params: dict[str, str]) -> None:
    code, doc = _verify(world, **params)
    assert code == 400, doc
    assert doc["type"].endswith(":invalid-request")
