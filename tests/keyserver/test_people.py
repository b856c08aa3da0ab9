"""The declared number of people whose personal data a container holds (issue 12).

spec §endpoints: ``people`` in a registration, 1..100,000,000 or null (not declared),
shown in the status; spec §report: per container and, for the medium, "up to" the sum of
the declared counts with the undeclared containers counted apart; spec §transparency: not
in the signed medium report (the writer's word, not the audit log's).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from keyserver._cli.tlog import create_log_key
from keyserver._domain.settings import Settings
from keyserver.testing import running_server
from tests.support.world import World, activate, make_world, register

MEDIUM = "usb-people-1"


def test_declared_people_in_status_and_register_entry(world: World) -> None:
    reg = register(world, medium=MEDIUM, people=460_517)
    cid = reg["container_id"]
    status = world.call("official", "GET", f"/v1/containers/{cid}").json()
    assert status["people"] == 460_517
    log = world.call("auditor", "GET", "/v1/audit", params={"container": cid}).json()
    assert log["entries"][0]["action"] == "register"
    assert log["entries"][0]["details"]["people"] == 460_517
    # Not declared: null, and the register entry is as it was before (no member).
    other = register(world, medium=MEDIUM)["container_id"]
    assert world.call("official", "GET", f"/v1/containers/{other}").json()["people"] is None
    log = world.call("auditor", "GET", "/v1/audit", params={"container": other}).json()
    assert "people" not in log["entries"][0]["details"]


def test_bad_counts_refused_with_the_field(world: World, subtests: pytest.Subtests) -> None:
    for people in (0, -1, 100_000_001, True, "12", 1.5):
        with subtests.test(msg=repr(people)):
            resp = world.call(
                "writer",
                "POST",
                "/v1/containers",
                json={"label": "l", "medium": MEDIUM, "readers": ["reader"], "people": people},
            )
            assert resp.status_code == 400, resp.text
            problem = resp.json()
            assert problem["type"] == "urn:rwc:problem:invalid-request"
            if isinstance(people, int) and not isinstance(people, bool):
                # A value a person chose: the client names its option (spec §problems).
                assert problem["field"] == "people"
                assert "100000000" in problem["detail"]
    assert register(world, medium=MEDIUM, people=100_000_000)["container_id"]


def _reported(w: World) -> dict[str, object]:
    for people in (1200, 3400, None):
        activate(w, medium=MEDIUM, people=people, label=f"export {people}")
    resp = w.call("official", "POST", f"/v1/media/{MEDIUM}/loss-report", json={"reason": "lost"})
    assert resp.status_code == 200, resp.text
    doc = w.call("official", "GET", f"/v1/media/{MEDIUM}/report").json()
    assert isinstance(doc, dict)
    return doc


def test_medium_report_says_up_to_the_sum(world: World) -> None:
    doc = _reported(world)
    by_label = {c["label"]: c["people"] for c in doc["containers"]}  # type: ignore[attr-defined]
    assert by_label == {"export 1200": 1200, "export 3400": 3400, "export None": None}
    # An upper bound (the same person may be in two exports), the undeclared apart.
    assert doc["people_up_to"] == 4600
    assert doc["people_undeclared"] == 1


@pytest.fixture
def logged(settings: Settings, tmp_path: Path) -> Iterator[World]:
    path = tmp_path / "log.key"
    create_log_key(path, "city.example/rwc")
    logged = settings.replace(log_key_file=path, checkpoint_interval=timedelta(0))
    with running_server(logged) as url:
        w = make_world(logged, url)
        yield w
        w.close()


def test_signed_report_leaves_the_declared_counts_out(logged: World) -> None:
    _reported(logged)
    resp = logged.call("official", "GET", f"/v1/media/{MEDIUM}/report/signed")
    assert resp.status_code == 200, resp.text
    statement = resp.json()["body"]["statement"]
    assert not {"people_up_to", "people_undeclared"} & set(statement)
    assert statement["containers"]
    assert all("people" not in c for c in statement["containers"])
