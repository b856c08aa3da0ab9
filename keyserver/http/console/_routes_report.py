"""The medium report and the signed incident documents.

The report page shows the service's three-way answer (opened / possibly opened / not
opened, keyserver/service/medium_report.py) for the medium and each container, every
attempt and every suspension, restore and destroy since the time of loss; it prints on A4
and downloads as JSON. The signed medium report and the destruction certificate
(keyserver/service/incident.py) download as files anyone can check offline with
``keyserver verify-report``; the pages show the exact command.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from keyserver.domain.answers import answer_first
from keyserver.domain.i18n import N_
from keyserver.domain.lifecycle import State
from keyserver.http.console import _security
from keyserver.http.console._documents import (
    CERTIFICATE,
    MEDIUM_REPORT,
    file_name,
    verify_command,
)
from keyserver.http.console._page import Page, SignedInPage
from keyserver.http.console._routes_media import medium_url

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)


def _download(doc: dict[str, Any], name: str) -> Response:
    return Response(
        json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def print_margin(page: Page, medium: str, generated_at: datetime) -> dict[str, str]:
    """What the margin of every printed page of the report says (issue 12).

    The report's title, when it was prepared (in the configured zone, with its offset) and
    "Page N of M". The margin is drawn by the stylesheet (console.css, ``@page``), where
    only CSS counters can count pages: the catalogue's "Page ... of ..." is cut at its two
    numbers into the texts before, between and after them. base.html writes each text as
    a ``data-print-*`` attribute of the root element, which the stylesheet reads; no inline
    style, which the console's CSP refuses. Every translation names the page before the
    count of pages.
    """
    numbering = N_("Page %(page)s of %(pages)s", page="\x00", pages="\x01").text(page.language)
    before, _, rest = numbering.partition("\x00")
    between, _, after = rest.partition("\x01")
    return {
        "title": N_("Medium report: %(medium)s", medium=medium).text(page.language),
        "prepared": N_("Prepared %(at)s", at=page.formats.datetime(generated_at)).text(
            page.language
        ),
        "page-before": before,
        "page-between": between,
        "page-after": after,
    }


@router.get("/medium/report")
def medium_report(page: SignedInPage, name: str = "") -> Response:
    """The medium report: the three-way answer, every attempt and change; printable on A4."""

    def body() -> Response:
        doc = page.service.medium_report(page.principal, name, ctx=page.ctx)
        generated_at = page.service.now()
        destroyed = any(c["state"] == State.DESTROYED.value for c in doc["containers"])
        return page.render(
            "report.html",
            doc=doc,
            # The answer first (issue 12); the JSON and signed documents keep id order.
            containers=answer_first(doc["containers"]),
            print_margin=print_margin(page, doc["medium"], generated_at),
            generated_at=generated_at,
            verify=verify_command(page, MEDIUM_REPORT, doc["medium"]),
            verify_certificate=verify_command(page, CERTIFICATE, doc["medium"])
            if destroyed
            else None,
        )

    return page.act(body, medium_url(name))


@router.get("/medium/report.json")
def medium_report_json(page: SignedInPage, name: str = "") -> Response:
    """The same report as JSON (RFC 3339 UTC), as a download."""

    def body() -> Response:
        doc = page.service.medium_report(page.principal, name, ctx=page.ctx)
        return _download(doc, file_name("medium-report-unsigned", doc["medium"]))

    return page.act(body, medium_url(name))


@router.get("/medium/signed/{kind}")
def signed_document(page: SignedInPage, kind: str, name: str = "") -> Response:
    """The signed medium report or destruction certificate (KeyService.signed_report)."""

    def body() -> Response:
        if kind not in {MEDIUM_REPORT, CERTIFICATE}:
            raise page.invalid(N_("There is no such document."))
        doc = page.service.signed_report(page.principal, kind, name, ctx=page.ctx)
        medium = str(doc["body"]["statement"]["medium"])
        return _download(doc, file_name(kind, medium))

    return page.act(body, medium_url(name, "/report"))
