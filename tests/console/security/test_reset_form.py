"""The console's reset of a container's attempt count (issue 12, console20): CSRF refused,
an auditor refused and audited, the official's reset audited as theirs, a label shown as
text on the confirmation that names it.

Over HTTP against a real server, SQLite and PostgreSQL (conftest.py).
"""

from __future__ import annotations

import pytest

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from tests.support.console import csrf_of
from tests.support.console_http import MEDIUM, audit_entries, sign_in

SCRIPT = "<script>alert(1)</script>"


def _ids(settings: Settings) -> dict[str, str]:
    service = KeyService(settings)
    try:
        doc = service.console_medium(Actor(name="check", roles=ROLES, local=True), MEDIUM)
        return {c["label"]: c["container_id"] for c in doc["containers"]}
    finally:
        service.close()


def test_reset_needs_the_form_and_an_official(
    settings: Settings, tokens: dict[str, str], console_url: str, subtests: pytest.Subtests
) -> None:
    cid = _ids(settings)["residents"]
    browser, _ = sign_in(console_url, tokens["tanaka"])
    csrf = csrf_of(browser.get(f"{console_url}/console/container/{cid}", timeout=30))
    url = f"{console_url}/console/container/{cid}/reset-budget"
    form = {"csrf": csrf, "confirmed": "yes", "reason": "asked the clerk"}
    for data, headers in (
        ({**form, "csrf": "x" * len(csrf)}, {}),  # a wrong token
        ({k: v for k, v in form.items() if k != "csrf"}, {}),  # none
        (form, {"Origin": "http://attacker.example"}),  # another origin
    ):
        with subtests.test(msg=f"{sorted(data)} {headers}"):
            assert browser.post(url, data=data, headers=headers, timeout=30).status_code == 403
    assert audit_entries(settings, action="budget.reset") == []

    auditor, _ = sign_in(console_url, tokens["suzuki"])
    page = auditor.get(f"{console_url}/console/container/{cid}", timeout=30)
    refused = auditor.post(url, data={**form, "csrf": csrf_of(page)}, timeout=30)
    assert refused.status_code == 403
    (entry,) = audit_entries(settings, action="budget.reset")
    assert (entry["actor"], entry["outcome"], entry["container"]) == ("suzuki", "refused", cid)

    done = browser.post(url, data=form, timeout=30)
    assert done.status_code == 200
    assert 'id="reset-done"' in done.text
    newest = audit_entries(settings, action="budget.reset")[0]
    assert (newest["actor"], newest["outcome"], newest["remote"]) == ("tanaka", "ok", "127.0.0.1")
    assert newest["details"]["reason"] == "asked the clerk"


def test_the_confirmation_shows_a_label_as_text(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    cid = _ids(settings)[SCRIPT]
    browser, _ = sign_in(console_url, tokens["tanaka"])
    csrf = csrf_of(browser.get(f"{console_url}/console/container/{cid}", timeout=30))
    page = browser.post(
        f"{console_url}/console/container/{cid}/reset-budget", data={"csrf": csrf}, timeout=30
    )
    assert page.status_code == 200
    assert SCRIPT not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert audit_entries(settings, action="budget.reset") == []  # nothing happened yet
