"""The console over HTTP without a browser: sign in, post its forms, read back what it did.

Helpers of tests/console/security/ (CSRF, sessions, roles, the loss report's forms): a
``requests`` session signs in as a person would (the form, its CSRF token and cookie), and
the service reads the rows the console wrote. ``seed`` writes the principals and the two
containers on MEDIUM those tests act on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from tests.support.clock import FakeClock
from tests.support.console import committed, csrf_of

MEDIUM = "USB-2022-06-AMA"


# Every test's clock starts here (2026-12-04 10:00 in Asia/Tokyo).
START = datetime(2026, 12, 4, 1, 0, 0, tzinfo=UTC)


def clock_of(settings: Settings) -> FakeClock:
    assert isinstance(settings.clock, FakeClock)
    return settings.clock


def seed(settings: Settings) -> dict[str, str]:
    service = KeyService(settings)
    try:
        boot = Actor(name="bootstrap", roles=ROLES, local=True)
        tokens = {
            name: service.add_principal(boot, name, [role])["token"]
            for name, role in (
                ("tanaka", "official"),
                ("suzuki", "auditor"),
                ("sato", "admin"),
                ("vendor", "writer"),
                ("clerk", "reader"),
            )
        }
        writer = service.authenticate(tokens["vendor"])
        for label in ("residents", "<script>alert(1)</script>"):
            committed(service, writer, label, MEDIUM, readers=["clerk"])
        return tokens
    finally:
        service.close()


def sign_in(url: str, token: str) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    form = browser.get(url + "/console/sign-in", timeout=30)
    resp = browser.post(
        url + "/console/sign-in",
        data={"csrf": csrf_of(form), "token": token, "next": "/console/overview"},
        timeout=30,
    )
    return browser, resp


def signed_in(resp: requests.Response) -> bool:
    """The response is a console page of a signed-in principal (not the sign-in form)."""
    return resp.status_code == 200 and 'action="/console/sign-out"' in resp.text


def states(settings: Settings) -> set[str]:
    service = KeyService(settings)
    try:
        actor = Actor(name="check", roles=ROLES, local=True)
        return {c["state"] for c in service.console_medium(actor, MEDIUM)["containers"]}
    finally:
        service.close()


def audit_entries(settings: Settings, **filters: Any) -> list[dict[str, Any]]:
    service = KeyService(settings)
    try:
        actor = Actor(name="check", roles=ROLES, local=True)
        return list(service.console_audit(actor, **filters)["entries"])
    finally:
        service.close()


def loss_form(csrf: str, lost_at: str = "2026-12-04 09:30") -> dict[str, str]:
    return {
        "csrf": csrf,
        "name": MEDIUM,
        "lost_at": lost_at,
        "waiting_hours": "72",
        "reason": "lost",
        "public_reason": "",
    }


def main_of(html_text: str) -> str:
    return html_text.split("<main", 1)[1].split("</main>", 1)[0]


def container_ids(settings: Settings) -> list[str]:
    service = KeyService(settings)
    try:
        actor = Actor(name="check", roles=ROLES, local=True)
        return [c["container_id"] for c in service.console_medium(actor, MEDIUM)["containers"]]
    finally:
        service.close()


def get_in_english(browser: requests.Session, url: str, **params: str) -> requests.Response:
    return browser.get(url, params=params, headers={"Accept-Language": "en"}, timeout=30)


def confirm_loss(browser: requests.Session, url: str) -> requests.Response:
    """Report MEDIUM lost through the console's confirmation form."""
    page = browser.get(f"{url}/console/medium", params={"name": MEDIUM}, timeout=30)
    return browser.post(
        url + "/console/medium/report-lost/confirm", data=loss_form(csrf_of(page)), timeout=30
    )


def medium_doc(settings: Settings) -> dict[str, Any]:
    service = KeyService(settings)
    try:
        actor = Actor(name="check", roles=ROLES, local=True)
        return service.console_medium(actor, MEDIUM)
    finally:
        service.close()
