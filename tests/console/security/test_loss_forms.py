"""The loss report's forms over HTTP: the time of loss read in the display zone, bad times
refused with nothing changed, restore lifting only the loss report, the report pages.

Over HTTP against a real server, SQLite and PostgreSQL (conftest.py).
"""

from __future__ import annotations

import html
import re
import shlex
from pathlib import Path

import pytest

from keyserver._cli.tlog import create_log_key
from keyserver._domain.settings import Settings
from keyserver._domain.transparency.note import COSIGNATURE_V1, SignerKey
from keyserver._service import KeyService
from keyserver.testing import running_server
from tests.support.console import csrf_of
from tests.support.console_http import (
    MEDIUM,
    audit_entries,
    confirm_loss,
    get_in_english,
    loss_form,
    medium_doc,
    seed,
    sign_in,
    states,
)


def test_time_of_loss_is_read_in_the_display_zone(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    """The official types the time as the pages show it (Asia/Tokyo); UTC is stored."""
    browser, _ = sign_in(console_url, tokens["tanaka"])
    page = browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}, timeout=30)
    assert "Asia/Tokyo" in page.text
    assert "UTC+09:00" in page.text
    review = browser.post(
        console_url + "/console/medium/report-lost", data=loss_form(csrf_of(page)), timeout=30
    )
    assert review.status_code == 200
    assert "2026/12/04 09:30:00 (UTC+09:00)" in review.text  # the time of loss, as typed
    assert medium_doc(settings)["lost_at"] is None  # the review acts on nothing
    hidden = re.search(r'name="lost_at" value="([^"]+)"', review.text)
    assert hidden is not None
    form = {**loss_form(csrf_of(review)), "lost_at": hidden.group(1)}
    done = browser.post(console_url + "/console/medium/report-lost/confirm", data=form, timeout=30)
    assert done.status_code == 200, done.text[:2000]
    doc = medium_doc(settings)
    # The time typed, read in the display zone, is the time told; approximate by default,
    # the report counts from 15 minutes before it (spec §loss told_at).
    assert doc["told_at"] == "2026-12-04T00:30:00.000000Z"
    assert doc["lost_at"] == "2026-12-04T00:15:00.000000Z"
    assert doc["loss_reported_at"] == "2026-12-04T01:00:00.000000Z"


@pytest.mark.parametrize(
    ("lost_at", "problem"),
    [
        ("", "time of loss is required"),
        ("yesterday", "is not a date and time"),
        ("2026-12-04 11:00", "in the future"),  # 02:00 UTC; the clock says 01:00 UTC
    ],
)
def test_bad_time_of_loss_changes_nothing(
    settings: Settings, tokens: dict[str, str], console_url: str, lost_at: str, problem: str
) -> None:
    browser, _ = sign_in(console_url, tokens["tanaka"])
    page = browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}, timeout=30)
    for step in ("/console/medium/report-lost", "/console/medium/report-lost/confirm"):
        refused = browser.post(
            console_url + step,
            data=loss_form(csrf_of(page), lost_at),
            headers={"Accept-Language": "en"},
            timeout=30,
        )
        assert refused.status_code == 400, refused.text[:2000]
        assert problem in refused.text
    assert states(settings) == {"active"}
    assert medium_doc(settings)["lost_at"] is None


def test_restore_lifts_only_the_loss_report(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    """A container an official suspended for another reason stays suspended, and the page
    says so and why (spec §lifecycle: a bulk restore lifts only the cause it names)."""
    service = KeyService(settings)
    try:
        official = service.authenticate(tokens["tanaka"])
        held = medium_doc(settings)["containers"][0]["container_id"]
        service.change_state(official, "suspend", "container", held, "vendor audit")
    finally:
        service.close()
    browser, _ = sign_in(console_url, tokens["tanaka"])
    page = browser.get(f"{console_url}/console/medium", params={"name": MEDIUM}, timeout=30)
    review = browser.post(
        console_url + "/console/medium/report-lost", data=loss_form(csrf_of(page)), timeout=30
    )
    # The confirmation says the held container is already suspended, and why.
    assert review.text.count("effect-already_suspended") == 1
    assert review.text.count("effect-suspended") == 1
    confirm_loss(browser, console_url)
    page = get_in_english(browser, f"{console_url}/console/medium", name=MEDIUM)
    assert 'option value="loss-report"' in page.text
    done = browser.post(
        console_url + "/console/medium/restore",
        data={"csrf": csrf_of(page), "name": MEDIUM, "reason": "found", "cause": "loss-report"},
        headers={"Accept-Language": "en"},
        timeout=30,
    )
    assert done.status_code == 200
    assert "1 container of USB-2022-06-AMA is restored" in done.text  # not "1 containers"
    assert "Suspended by an official: 1" in done.text
    by_id = {c["container_id"]: c for c in medium_doc(settings)["containers"]}
    assert by_id[held]["state"] == "suspended"
    assert by_id[held]["suspend_cause"] == "official"
    assert {c["state"] for i, c in by_id.items() if i != held} == {"active"}
    (entry,) = audit_entries(settings, action="restore")
    assert (entry["actor"], entry["details"]["cause"]) == ("tanaka", "loss-report")


def test_report_page_shows_the_services_answer(
    settings: Settings, tokens: dict[str, str], console_url: str
) -> None:
    """The three-way answer and the state changes come from the service's report."""
    browser, _ = sign_in(console_url, tokens["tanaka"])
    confirm_loss(browser, console_url)
    report = get_in_english(browser, f"{console_url}/console/medium/report", name=MEDIUM)
    unsigned = browser.get(
        console_url + "/console/medium/report.json", params={"name": MEDIUM}, timeout=30
    ).json()
    assert unsigned["answer"] == "not opened"
    assert 'class="answer answer-not_opened"' in report.text
    assert report.text.count('class="changes"') == 2  # each container's suspension is listed
    assert "Loss report" in report.text  # its cause


def test_signed_report_names_the_witnesses_and_waits_for_them(
    settings: Settings, tmp_path: Path
) -> None:
    """With witnesses configured, the page's verify line names each and the cosignatures the
    server asks for; before any witness has cosigned, the download is a page that says so
    (no half-signed document, no 500)."""
    log_key = tmp_path / "log.key"
    create_log_key(log_key, "city.example/rwc")
    witnesses = [SignerKey.generate(f"w{i}.example/witness", COSIGNATURE_V1) for i in (1, 2)]
    settings = settings.replace(
        log_key_file=log_key,
        witness_keys=" ".join(w.verifier().encode() for w in witnesses),
    )
    tokens = seed(settings)
    with running_server(settings) as url:
        browser, _ = sign_in(url, tokens["suzuki"])
        report = get_in_english(browser, f"{url}/console/medium/report", name=MEDIUM)
        command = re.search(r'<pre class="command" id="verify-command">([^<]+)</pre>', report.text)
        assert command is not None
        words = shlex.split(html.unescape(command.group(1)))
        assert words[:3] == ["keyserver", "verify-report", f"medium-report-{MEDIUM}.json"]
        assert words[words.index("--log-key") + 1].startswith("city.example/rwc+")
        named = [words[i + 1] for i, w in enumerate(words) if w == "--witness-key"]
        assert named == [w.verifier().encode() for w in witnesses]
        assert words[-2:] == ["--min-cosignatures", "1"]
        signed = get_in_english(browser, f"{url}/console/medium/signed/medium-report", name=MEDIUM)
        assert signed.status_code == 409
        assert signed.headers["content-type"].startswith("text/html")
        assert "keyserver witness run" in signed.text
        unknown = get_in_english(browser, f"{url}/console/medium/signed/other", name=MEDIUM)
        assert unknown.status_code == 400
        assert "There is no such document." in unknown.text
