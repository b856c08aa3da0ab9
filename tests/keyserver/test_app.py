"""Application plumbing: OpenAPI, health, metrics, proxy addresses, background sweep."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from keyserver._domain.settings import Settings
from keyserver.testing import running_server
from tests.support.clock import FakeClock
from tests.support.world import World, activate, blinded_b64, make_world


@pytest.mark.own_server  # reads /metrics, which a server keeps in memory
def test_openapi_health_and_metrics(world: World) -> None:
    spec = world.call(None, "GET", "/openapi.json")
    assert (
        spec.status_code == 200 and "/v1/containers/{container_id}/evaluate" in spec.json()["paths"]
    )
    assert world.call(None, "GET", "/readyz").json()["status"] == "ready"
    reg, _ = activate(world)
    resp = world.call(
        "outsider",
        "POST",
        f"/v1/containers/{reg['container_id']}/evaluate",
        json={"blinded_element": blinded_b64()},
    )
    assert resp.status_code == 403
    metrics = world.call(None, "GET", "/metrics").text
    assert 'rwc_refusals_total{action="evaluate",reason="not-allowed"} 1' in metrics
    assert 'rwc_evaluations_total{mode="seal"} 1' in metrics
    assert 'rwc_containers{state="active"} 1' in metrics
    # No secrets in the metrics text.
    assert "rwc_" + "A" not in metrics and world.tokens["reader"] not in metrics


def test_remote_address_from_trusted_proxy_only(settings: Settings) -> None:
    tokens: dict[str, str] = {}
    for trust, expected in ((False, "127.0.0.1"), (True, "203.0.113.7")):
        s = settings.replace(trust_proxy=trust)
        with running_server(s) as url:
            w = World(settings=s, url=url, tokens=tokens) if tokens else make_world(s, url)
            tokens = w.tokens
            try:
                reg, _ = activate(w, medium=f"m-{trust}")
                resp = w.call(
                    "reader",
                    "POST",
                    f"/v1/containers/{reg['container_id']}/evaluate",
                    json={"blinded_element": blinded_b64()},
                    headers={"X-Forwarded-For": "10.0.0.1, 203.0.113.7"},
                )
                assert resp.status_code == 200
                entries = w.call(
                    "auditor",
                    "GET",
                    "/v1/audit",
                    params={"container": reg["container_id"], "action": "evaluate"},
                ).json()["entries"]
                assert entries[-1]["remote"] == expected
            finally:
                w.close()


def test_background_sweep(settings: Settings, clock: FakeClock) -> None:
    s = settings.replace(sweep_interval=timedelta(milliseconds=50))
    with running_server(s) as url:
        w = make_world(s, url)
        try:
            reg, _ = activate(w, medium="usb-bg")
            resp = w.call(
                "official",
                "POST",
                "/v1/media/usb-bg/loss-report",
                # One day: a shorter one would need a second official (spec §approvals).
                json={"reason": "lost", "waiting_period_seconds": 86400},
            )
            assert resp.json()["affected"] == 1
            clock.advance(hours=25)
            deadline = time.monotonic() + 30
            state = ""
            while time.monotonic() < deadline:
                state = w.call("official", "GET", f"/v1/containers/{reg['container_id']}").json()[
                    "state"
                ]
                if state == "destroyed":
                    break
                time.sleep(0.05)
            assert state == "destroyed"
            entries = w.call(
                "auditor", "GET", "/v1/audit", params={"actor_name": "system", "action": "destroy"}
            ).json()
            assert entries["entries"][0]["details"]["reason"] == "loss report waiting period over"
        finally:
            w.close()
