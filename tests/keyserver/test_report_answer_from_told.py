"""The medium report's answer counted from the time told (spec §report ``told_seq``,
``answer_from_told_at``; issue 12, eighteenth session).

After the review's "Not sure" the report counts from the clerk's key release just before
the time the official was told; its ``answer`` stays that conservative one, and beside it
the answer had the medium been lost at the time told, per container and for the medium,
so that what people read can say "depends on the time of loss" where the two differ
(answers.as_read). Over the API on SQLite and PostgreSQL, real VOPRF and receipts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from keyserver._domain.answers import DEPENDS, as_read, depends_view
from keyserver._domain.validation import fmt_time
from tests.support.clock import FakeClock
from tests.support.world import World, activate, confirm, oprf

MEDIUM = "USB-TOLD-ANSWER"


def _open(world: World, clock: FakeClock, at: datetime, label: str, *, receipt: bool) -> None:
    """A container of MEDIUM whose key the reader is given at ``at`` (and confirms)."""
    reg, key = activate(world, medium=MEDIUM, label=label)
    clock.t = at
    given = oprf(world, "reader", reg["container_id"], reg["public_key"])
    if receipt:
        confirm(world, "reader", reg["container_id"], key, given)


def _report(world: World, **times: datetime) -> dict[str, Any]:
    body = {"reason": "lost", **{k: fmt_time(v) for k, v in times.items()}}
    resp = world.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json=body)
    assert resp.status_code == 200, resp.text
    report = world.call("auditor", "GET", f"/v1/media/{MEDIUM}/report")
    assert report.status_code == 200, report.text
    return dict(report.json())


def _by_label(doc: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {c["label"]: (c["answer"], c["answer_from_told_at"]) for c in doc["containers"]}


def test_an_opening_only_before_the_time_told_makes_the_answer_depend(
    world: World, clock: FakeClock
) -> None:
    """The clerk opened "late" 45 s before the time told; "tried" was given a key (no
    receipt) after it. From the time of loss: Opened; from the time told: Possibly opened.
    """
    start = clock()
    lost = start + timedelta(hours=1)
    told = lost + timedelta(seconds=45)
    _open(world, clock, lost, "late", receipt=True)
    _open(world, clock, told + timedelta(minutes=5), "tried", receipt=False)
    clock.t = start + timedelta(hours=2)
    doc = _report(world, lost_at=lost, told_at=told)
    assert (doc["answer"], doc["answer_from_told_at"]) == ("opened", "possibly opened")
    assert _by_label(doc) == {
        "late": ("opened", "not opened"),
        "tried": ("possibly opened", "possibly opened"),
    }
    # The first entry at or after the time told: the key released to "tried".
    tried = next(c for c in doc["containers"] if c["label"] == "tried")
    released = [a for a in tried["attempts"] if a["kind"] == "release"]
    assert doc["told_seq"] == released[0]["seq"]
    assert as_read(doc["answer"], doc["answer_from_told_at"]) == DEPENDS
    view = depends_view(doc["containers"], doc["told_seq"])
    assert view is not None
    assert [(e["label"], e["who"], e["opened"]) for e in view["before"]["events"]] == [
        ("late", ["reader"], True)
    ]
    assert view["before"]["at"] == fmt_time(lost)
    assert [(e["label"], e["opened"]) for e in view["from_told"]["events"]] == [("tried", False)]


def test_an_answer_the_same_from_the_time_told_does_not_depend(
    world: World, clock: FakeClock
) -> None:
    """A second opening of the same container after the time told: Opened either way."""
    start = clock()
    lost = start + timedelta(hours=1)
    told = lost + timedelta(seconds=45)
    reg, key = activate(world, medium=MEDIUM, label="late")
    for at in (lost, told + timedelta(minutes=1)):
        clock.t = at
        confirm(
            world,
            "reader",
            reg["container_id"],
            key,
            oprf(world, "reader", reg["container_id"], reg["public_key"]),
        )
    clock.t = start + timedelta(hours=2)
    doc = _report(world, lost_at=lost, told_at=told)
    assert (doc["answer"], doc["answer_from_told_at"]) == ("opened", "opened")
    assert as_read(doc["answer"], doc["answer_from_told_at"]) == "opened"
    assert depends_view(doc["containers"], doc["told_seq"]) is None


def test_without_a_time_told_or_with_since_there_is_none(world: World, clock: FakeClock) -> None:
    start = clock()
    lost = start + timedelta(hours=1)
    _open(world, clock, lost, "late", receipt=True)
    clock.t = start + timedelta(hours=2)
    doc = _report(world, lost_at=lost)
    assert (doc["told_seq"], doc["answer_from_told_at"]) == (None, None)
    assert _by_label(doc) == {"late": ("opened", None)}
    assert as_read(doc["answer"], doc["answer_from_told_at"]) == "opened"
    # A window of the caller's (since) is compared with nothing.
    resp = world.call(
        "auditor", "GET", f"/v1/media/{MEDIUM}/report", params={"since": fmt_time(start)}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["answer_from_told_at"] is None
