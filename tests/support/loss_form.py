"""The console's loss form as the tests post it (tests/console/test_loss_form*.py): the
medium, the example time, the form posted with its CSRF token, and a field's tag and value
read back from the page."""

from __future__ import annotations

import html

import requests

from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._service import KeyService
from tests.support.console import csrf_of, official_with_medium, signed_in_session

MEDIUM = "USB-2026-0502"
EXAMPLE = "2026-12-03 18:30"  # yesterday evening in the configured zone
# The same time typed with a Japanese input method's full-width digits.
FULL_WIDTH = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in "2026/12/03 18:30")


def official_browser(settings: Settings, url: str, language: str) -> requests.Session:
    """An official signed in (``language``), with one active container on MEDIUM."""
    return signed_in_session(url, official_with_medium(settings, MEDIUM), language)


def post(
    browser: requests.Session, url: str, lost_at: str, path: str = "", **fields: str
) -> requests.Response:
    """Post the loss form (or, with ``path="/confirm"``, its confirmation)."""
    page = browser.get(url + "/console/medium", params={"name": MEDIUM}, timeout=30)
    return browser.post(
        url + "/console/medium/report-lost" + path,
        data={
            "csrf": csrf_of(page),
            "name": MEDIUM,
            "lost_at": lost_at,
            "waiting_hours": "48",
            "reason": "委託先が紛失 <b>",
            "note": "media reported lost",
            **fields,
        },
        timeout=30,
    )


def value_of(text: str, field: str) -> str:
    start = text.index(f'id="{field}"')
    tag = text[text.rindex("<", 0, start) : text.index(">", start)]
    if tag.startswith("<textarea"):
        body = text[text.index(">", start) + 1 :]
        return html.unescape(body[: body.index("</textarea>")])
    marker = 'value="'
    found = tag.find(marker)
    return "" if found < 0 else html.unescape(tag[found + len(marker) : tag.index('"', found + 7)])


def tag_of(text: str, field: str) -> str:
    start = text.index(f'id="{field}"')
    return text[text.rindex("<", 0, start) : text.index(">", start)]


def loss_reasons(settings: Settings, medium: str) -> list[tuple[str, str]]:
    """The (internal, public) reasons of ``medium``'s loss reports, as the audit log has them."""
    service = KeyService(settings)
    try:
        boot = Actor(name="bootstrap", roles=ROLES, local=True)
        entries = service.console_audit(boot, action="suspend", medium=medium)["entries"]
    finally:
        service.close()
    return [
        (e["details"]["reason"], e["details"].get("public_reason"))
        for e in entries
        if e["details"].get("loss_report")
    ]
