"""The press statement: one printed A4 page from the medium report, for the public.

Issue 12, twentieth session: the city hands the medium report to the press, and the
report is the manager's (two pages and more: tables of attempts, principals' e-mail
addresses, container ids, the internal reason on screen). A Japanese newcomer official
asked for a one-page version for the press. This page says what was lost and when, what
the city did and when, the report's answer to "was the data opened after the loss?" and
what happens next, read from the same service call as the report (KeyService
.medium_report, so it is allowed and refused, and audited, exactly as the report is) and
the same readings of it (_report_told, answers): nothing here decides an answer. Display
only (spec §report "Press statement").

What it never shows (a decision of this page, tests/console/test_press_statement.py): a
principal's name (the opener is said by role: an authorised city account), a container
id, an address, the internal reason or note. The loss report's public reason is not
shown either: the statement says what happened in its own words, and the reason typed
for refused readers may name a place or a person the press need not have.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from keyserver._domain.answers import answer_first, depends_views
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import State
from keyserver._domain.settings import Settings
from keyserver._http.console import _security
from keyserver._http.console._documents import MEDIUM_REPORT, verify_command
from keyserver._http.console._page import SignedInPage
from keyserver._http.console._report_told import manager_view, read_answer, told_view
from keyserver._http.console._routes_media import medium_url
from keyserver._http.console._routes_report import close_to_loss

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)
# The contact every refusal carries until the city sets its own (settings ``contact``):
# not printed here, where only a contact the city chose is a promise to the press.
_DEFAULT_CONTACT = next(f.default for f in dataclasses.fields(Settings) if f.name == "contact")


def _event(event: dict[str, Any]) -> dict[str, Any]:
    """An event of the report's readings as the statement says it: no one named."""
    return {"label": event["label"], "at": event["at"], "opened": bool(event.get("opened"))}


def _side(side: dict[str, Any]) -> dict[str, Any]:
    """One case of "depends on the time of loss" (answers.depends_view), without names.

    Its events grouped by what each is, opened first: ``groups`` is a list of (answer,
    events), "opened" for the openings a receipt confirmed, "possibly opened" for the keys
    given with none (spec §report). Issue 12, twenty-first session: the line said
    "Opened — … opened “A” … and the key of “B” was given …, its opening not confirmed",
    and a journalist reads every file after "Opened" as opened; the public statement says
    each file under its own answer. Grouped by the event's own confirmation, not by the
    medium's answer: on one side of the time told that is the file's answer there
    (answers.depends_view), and an unconfirmed key is never said under "Opened".
    """
    events = [_event(e) for e in side["events"]]
    groups = [
        (answer, [e for e in events if e["opened"] is opened])
        for answer, opened in (("opened", True), ("possibly opened", False))
    ]
    return {**side, "events": events, "groups": [(a, found) for a, found in groups if found]}


def press_view(doc: dict[str, Any], close: dict[str, Any] | None) -> dict[str, Any]:
    """What the statement says, from the medium report ``doc`` and its close_view.

    The answer is the report's as people read it (read_answer: "Depends on the time of
    loss" where the time told would change it), with its two cases (depends_views), or
    the report's caution where releases just before the time of loss would change it
    (close_view); each event by its container's label and time only.
    """
    containers = answer_first(doc["containers"])
    depends, _ = depends_views(doc)
    cautioned = close is not None and close["before"] != doc["answer"]
    caution = None
    if cautioned:
        assert close is not None
        caution = {
            "answer": close["before"],
            "events": [
                {"label": e["label"], "at": e["at"], "opened": bool(e["confirmed"])}
                for e in close["differing"] or [close["named"]]
            ],
        }
    # Each answer (worst first, as answer_first orders them) with its files' labels, only
    # where they differ: one answer says it for all.
    each: dict[str | None, list[str]] = {}
    for c in containers:
        each.setdefault(read_answer(c), []).append(c["label"])
    return {
        "answer": read_answer(doc),
        "each": list(each.items()) if len(each) > 1 else [],
        "labels": [c["label"] for c in containers],
        "depends": {"before": _side(depends["before"]), "after": _side(depends["from_told"])}
        if depends
        else None,
        "caution": caution,
        "destroyed_at": max(
            (str(c["destroyed_at"]) for c in containers if c["state"] == State.DESTROYED.value),
            default=None,
        ),
    }


@router.get("/medium/press")
def press_statement(page: SignedInPage, name: str = "") -> Response:
    """The press statement of a medium reported lost (officials, auditors): one A4 page."""

    def body() -> Response:
        doc = page.service.medium_report(page.principal, name, ctx=page.ctx)
        if not doc["lost_at"]:
            raise page.invalid(
                N_("No loss has been reported for this medium: there is no statement to print.")
            )
        contact = page.service.settings.contact
        return page.render(
            "press.html",
            doc=doc,
            told=told_view(doc),
            manager=manager_view(doc["containers"]),
            press=press_view(doc, close_to_loss(page, doc)),
            # Only a contact the city set (settings ``contact``): the default sentence is
            # for refused readers, and promises the press no one.
            contact=contact if contact != _DEFAULT_CONTACT else None,
            signed=verify_command(page, MEDIUM_REPORT, doc["medium"]) is not None,
            generated_at=page.service.now(),
        )

    return page.act(body, medium_url(name, "/report"))
