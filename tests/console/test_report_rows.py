"""The medium report says what each attempt row is, so rows and answer never disagree.

A newcomer official read "Not opened" next to "contractor  Key requested  Succeeded" after
the time of loss: the writer sealing a container (a seal-mode release, spec §report
``kind``: creation), which is not an opening. Over a real socket, SQLite, real VOPRF.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime
from typing import Any

import requests
from voprf import ristretto as r

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from tests.support.clock import FakeClock
from tests.support.console import signed_in_session

MEDIUM = "USB-2026-0502"


def _seed(settings: Settings) -> tuple[dict[str, str], str]:
    service = KeyService(settings)
    try:
        boot = Actor(name="bootstrap", roles=ROLES, local=True)
        tokens = {
            name: service.add_principal(boot, name, [role])["token"]
            for name, role in (("tanaka", "official"), ("vendor", "writer"), ("clerk", "reader"))
        }
        writer = service.authenticate(tokens["vendor"])
        reg = service.register(
            writer, label="ledger", medium=MEDIUM, readers=["clerk"], reader_groups=[]
        )
        return tokens, str(reg["container_id"])
    finally:
        service.close()


def _evaluate(url: str, token: str, cid: str) -> requests.Response:
    _, blinded = r.Client.blind(b"the password")
    element = base64.urlsafe_b64encode(blinded.serialize()).rstrip(b"=").decode()
    return requests.post(
        f"{url}/v1/containers/{cid}/evaluate",
        json={"blinded_element": element},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def _report_page(url: str, token: str, language: str) -> str:
    browser = signed_in_session(url, token, language)
    page = browser.get(url + "/console/medium/report", params={"name": MEDIUM}, timeout=30)
    assert page.status_code == 200, page.text[:500]
    return page.text.split("<main", 1)[1].split("</main>", 1)[0]


def _report_loss(settings: Settings, lost_at: datetime) -> dict[str, Any]:
    service = KeyService(settings)
    try:
        return service.report_loss(
            service.local_actor("ops"), MEDIUM, "lost on the train", lost_at=lost_at
        )
    finally:
        service.close()


def test_writer_sealing_after_the_loss_is_said_to_be_creation(
    settings: Settings, console_url: str
) -> None:
    clock = settings.clock
    assert isinstance(clock, FakeClock)
    tokens, cid = _seed(settings)
    lost_at = clock()
    clock.advance(hours=1)
    # The contractor seals the container after the medium was (unknowingly) lost.
    assert _evaluate(console_url, tokens["vendor"], cid).status_code == 200
    service = KeyService(settings)
    try:
        writer = service.authenticate(tokens["vendor"])
        service.commit(writer, cid, header_digest=os.urandom(32), receipt_key=os.urandom(32))
    finally:
        service.close()
    clock.advance(hours=1)
    _report_loss(settings, lost_at)
    english = _report_page(console_url, tokens["tanaka"], "en")
    japanese = _report_page(console_url, tokens["tanaka"], "ja")
    # The answer stays "not opened" (spec §report), and the row says why it may: its
    # result is no "Succeeded" but that it is not an opening (issue 12, console45: inside
    # the period covered, "Sealed by its writer (creation) — Succeeded" alarmed two
    # newcomer runs; a note under the table was read after the row).
    assert '<p class="answer-a">Not opened</p>' in english
    row = '<td class="kind-creation">%s</td><td>%s</td>'
    assert row % ("Sealed by its writer (creation)", "Created (not an opening)") in english
    assert "Succeeded" not in english
    assert "Key requested" not in english
    assert row % ("作成者による封緘 (作成時)", "作成 (開封ではない)") in japanese
    assert "鍵の要求" not in japanese
