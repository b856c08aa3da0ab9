"""Acting on a medium: report it lost (review, then confirm), restore, destroy now.

Nothing happens on the first page of a loss report: it lists every container with what
the report will do to it (the service's own grouping, lifecycle.LOSS_EFFECTS) and the time
of loss. Destroy now needs the medium's name typed. Every action calls the same service
method as the HTTP API, with the signed-in principal as actor: it is checked and audited
exactly like the API call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from keyserver._domain.answers import last_opening
from keyserver._domain.errors import InvalidRequestError
from keyserver._domain.i18n import N_, Message
from keyserver._domain.lifecycle import RESTORE_CAUSES, TRANSITIONS, Op, State
from keyserver._domain.validation import REASON_MAX
from keyserver._http.console import _security
from keyserver._http.console._loss_question import (
    approximate,
    consequences,
    unsure_answer,
    unsure_suggested,
)
from keyserver._http.console._loss_time import loss_time
from keyserver._http.console._page import Page, PostedPage, SignedInPage, redirect
from keyserver._http.console._routes_approvals import approvals_page
from keyserver._http.console._routes_media import COMMON_REASONS, medium_page, medium_url
from keyserver._http.console._routes_report import (
    close_view,
    reported_seq,
    with_note,
)
from keyserver._service.close_releases import CLOSE_TO_LOSS

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)
_MAX_HOURS_DIGITS = 6
# The loss form's fields, given back to the form when it is refused (the box "approximate"
# as _typed says it).
_TYPED_FIELDS = ("lost_at", "waiting_hours", "reason", "reason_common", "note")


def _typed(form: Mapping[str, str]) -> dict[str, str]:
    """The loss form's fields as typed, to give back to it (refused, or from the review).

    The box as the form posts it, read by ``approximate``.
    """
    typed = {k: form.get(k, "") for k in _TYPED_FIELDS}
    return typed | {"approximate": "1" if approximate(form) else "", "approximate_box": "1"}


class _LossFormError(InvalidRequestError):
    """Every field of the loss form that needs fixing, in the form's order (issue 12).

    The first is the refusal's message and field (what the error page and the API-like
    callers see); the form lists them all: a newcomer fixed the time, submitted, and only
    then learned the reason was missing too (fourth newcomer run). The form is below the
    fold: the first field to fix gets ``autofocus``, so the browser scrolls to it with no
    script (CSP).
    """

    def __init__(self, errors: list[tuple[str, Message]]) -> None:
        super().__init__(errors[0][1], field=errors[0][0])
        self.errors = errors


def _loss_fields(page: Page) -> dict[str, Any]:
    """The loss report's fields from the form, checked as far as the form can be."""
    form = page.form
    # In the form's order, so the first thing said is the first field to fix.
    errors: list[tuple[str, Message]] = []
    lost_text = form.get("lost_at", "").strip()
    # The one reading of a time of loss, the echo beside the field's too (_loss_time).
    try:
        lost_at: datetime | None = loss_time(page, lost_text)
    except InvalidRequestError as exc:
        lost_at = None
        errors.append(("lost_at", exc.message or N_("The time of loss is required.")))
    reason = internal_reason(page, form.get("reason_common", ""), form.get("reason", ""))
    note = form.get("note", "").strip()
    if not reason:
        # Said as what to do, with the cursor on the first choice (issue 12, fifth newcomer
        # run: "please type the reason", with the cursor in the own-words field, led to
        # typing through the IME instead of one click).
        errors.append(("reason", N_("Pick a reason, or type one under Details.")))
    elif len(reason) > REASON_MAX:
        # The service's own limit on both reasons (spec §conventions: 1..2000 characters;
        # check_text), said
        # here with the form and everything typed (issue 12, sixteenth session: it was
        # refused only at the confirmation, on the error page, and the text was lost).
        # Counted as recorded: the choice with the details added to it.
        errors.append(
            (
                "details",
                N_(
                    "The reason is %(n)s characters long: shorten it to %(max)s at most.",
                    n=len(reason),
                    max=REASON_MAX,
                ),
            )
        )
    elif len(with_note(reason, note)) > REASON_MAX:
        # The internal reason recorded is the reason with the note added to it.
        errors.append(
            (
                "note",
                N_(
                    "The reason and the internal note are %(n)s characters together: shorten"
                    " the note (%(max)s at most together).",
                    n=len(with_note(reason, note)),
                    max=REASON_MAX,
                ),
            )
        )
    # The waiting period is under Advanced, after the reason in the form.
    wait_text = form.get("waiting_hours", "").strip()
    if not wait_text.isascii() or not wait_text.isdigit() or len(wait_text) > _MAX_HOURS_DIGITS:
        errors.append(("waiting_hours", N_("The waiting period must be a whole number of hours.")))
    if errors:
        raise _LossFormError(errors)
    # The one reason typed is the printed one (public) and starts the internal one; the
    # internal note, if any, is added to the internal reason only (issue 12, fifteenth
    # session, the lead's decision): the paper carries what the official typed, and what
    # can name people is the note, which is never printed nor shown to readers.
    return {
        "name": form.get("name", ""),
        "waiting_hours": int(wait_text),
        "reason": with_note(reason, note),
        "public_reason": reason,
        "note": note,
        "lost_at_text": lost_text,
        "lost_at": lost_at,
    }


def internal_reason(page: Page, choice: str, details: str) -> str:
    """The internal reason as recorded: the reason chosen, then the details typed beside it.

    Issue 12, fifteenth session: beside three choices, "Or in your own words" left both
    newcomers unsure whether to pick one as well, or whether the words replaced it. One
    rule: the details are added to the choice ("Stolen: from a parked car"), both kept;
    details alone are the reason. The field is labelled "Details", neither required nor
    called optional (sixteenth session: "(added to the choice)" read as required, and a
    newcomer typed 40 characters to be safe; seventeenth: "(optional)" was read as "leave
    it empty", and the printed reason was the choice alone). A choice is
    one of our own texts (COMMON_REASONS) in the official's language: an unknown one counts
    as none, so nothing else is ever recorded as a choice. The review posts the reason so
    composed back with no choice: it is kept as it is.
    """
    typed = details.strip()
    common = COMMON_REASONS.get(choice)
    if common is None:
        return typed
    chosen = common.text(page.language)
    if not typed:
        return chosen
    return N_("%(reason)s: %(details)s", reason=chosen, details=typed).text(page.language)


def _move(container: dict[str, Any]) -> tuple[str, str, str | None]:
    """What a loss report does to ``container``, as the review page says it."""
    effect = str(container["loss_effect"])
    cause = container.get("suspend_cause") if effect == "already_suspended" else None
    return str(container["state"]), effect, cause


@router.post("/medium/report-lost")
def report_lost(page: PostedPage) -> Response:
    """Step 1 of a loss report: list every container it will affect; act on nothing."""

    def body() -> Response:
        try:
            fields = _loss_fields(page)
        except _LossFormError as exc:
            # Said on the form itself, with everything typed kept (issue 12): a separate
            # error page's Back link lost the reasons and reset the time. Every field to
            # fix at once, the cursor on the first.
            return medium_page(
                page,
                page.form.get("name", ""),
                typed=_typed(page.form),
                errors=[(f, m.text(page.language)) for f, m in exc.errors],
                status=exc.status,
            )
        doc = page.service.console_medium(
            page.principal, fields["name"], lost_at=fields["lost_at"], ctx=page.ctx
        )
        containers = doc["containers"]
        # The destroy deadline runs from the confirmation: the page says the rule exactly
        # (issue 12, eighth newcomer run: an "about" clock time differed from the report's).
        # A report again keeps an earlier deadline (spec §loss, merge_reports): one at or
        # before this report's can only be kept, and is said so with its time.
        deadline = page.service.now() + timedelta(hours=fields["waiting_hours"])
        held = doc["destroy_after"] if doc["loss"] == "current" else None
        last = last_opening(containers)
        close = close_view(doc)
        # Told "around" a time (the default): the close releases are counted as "Not
        # sure" counts them, and nothing is asked (approximate).
        told_around = approximate(page.form)
        asking = None if told_around else close
        suggest = unsure_suggested(asking, fields["lost_at"])
        sealed_after = [c for c in containers if c["sealed_after_loss"]]
        return page.render(
            "confirm_loss.html",
            doc=doc,
            fields=fields,
            # What was typed, as typed, for "Change the time of loss" (edit_loss below).
            typed=_typed(page.form),
            kept_deadline=held is not None and datetime.fromisoformat(held) <= deadline,
            containers=containers,
            changing=sum(1 for c in containers if c["loss_effect"] != "unchanged"),
            # Issue 12: every container moves the same way (same state, same effect, same
            # cause if already suspended): the page says the move once, above the list.
            uniform=len({_move(c) for c in containers}) == 1,
            # Issue 12: warned, not refused (the service's sealed_after_loss).
            sealed_after=sealed_after,
            # Issue 12, nineteenth session: the focused button scrolled a long page down
            # past the warnings at its top (containers sealed after the time typed, an
            # earlier report), and both newcomers confirmed having seen only their tail.
            # Where the page warns, no button is focused: it opens at its top, the
            # warnings first; the primary button is still the one styled so, and Enter
            # confirms nothing the official has not reached.
            focus_primary=not sealed_after and doc["loss"] != "current",
            # Issue 12: the time typed checked against the last confirmed opening before it.
            last_before=last,
            # Issue 12, eighth newcomer run and fourteenth session: reader key releases
            # just before the time typed may be the finder's or the clerk's own use; the
            # page asks whether the medium was surely still in hand then (twentieth
            # session), with the answer each gives. The last opening is then said in the
            # question, not above it.
            close=close,
            asking=asking,
            suggest=suggest,
            consequences=None if asking is None else consequences(asking, suggest),
            # Told "around" the time, with close releases: the page says in one line what
            # the report will answer for them ("Not sure"'s answer), and its one button
            # reports so (the confirm form's ``cautious``).
            counted=None if close is None or not told_around else unsure_answer(close),
            last_in_question=close is not None
            and last is not None
            and str(last["at"]) >= str(close["first_at"]),
        )

    return page.act(body, medium_url(page.form.get("name", "")))


def _lost_before(text: str) -> datetime | None:
    """The first close release's time the review posts with its "before" answer, if any.

    Shown to the official who sent it and nothing else: a time of the server's own form
    (RFC 3339 with its offset), else none (a hand-made value is simply not said).
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@router.post("/medium/report-lost/edit")
def edit_loss(page: PostedPage) -> Response:
    """Back from the review to the medium's loss form, everything typed kept, to change it.

    Issue 12, thirteenth session's newcomer run: on a review that showed a confirmed opening
    one minute before the time typed, the only way back was Cancel, which dropped the time,
    the reason and the optional fields. Nothing is acted on here (no service call but the
    medium's page); a POST with the CSRF token as every form, so the internal reason never
    travels in a URL (logs, history). The cursor goes to the time of loss.
    """

    def body() -> Response:
        return medium_page(
            page,
            page.form.get("name", ""),
            typed=_typed(page.form),
            edit_time=True,
            lost_before=_lost_before(page.form.get("before", "")),
        )

    return page.act(body, medium_url(page.form.get("name", "")))


def cautious_fields(page: Page, fields: dict[str, Any]) -> dict[str, Any]:
    """The review's "Not sure" answer: the loss reported from the first close release.

    Issue 12, sixteenth session (the lead's decision): officials told "around 09:54"
    could not say whether the medium was lost after a reader's key release seconds
    before it. The cautious answer counts those releases: the time of loss becomes the
    first close release's whole second (spec §report: a release at or after the time of
    loss counts; the second is floored, so the release itself is at or after it), and
    the time told is kept with the report as its own field (spec §loss ``told_at``), which
    the report and the paper show beside the time of loss (seventeenth session: said in
    the reasons, it was repeated and wrapped in every container's Reason column). The
    release is found again here from the time typed, by the service's own query
    (close_view, as the review showed it), never from a time the page posts: what is
    reported is what the server's log says. No close release (a form not made by the
    review): refused, nothing reported.
    """
    told = fields["lost_at"]
    doc = page.service.console_medium(page.principal, fields["name"], lost_at=told, ctx=page.ctx)
    close = close_view(doc)
    if close is None:
        raise page.invalid(
            N_("No key was released just before this time of loss: review the report again.")
        )
    first = datetime.fromisoformat(close["first_at"]).replace(microsecond=0)
    return {**fields, "lost_at": first, "told_at": told}


@router.post("/medium/report-lost/confirm")
def report_lost_confirm(page: PostedPage) -> Response:
    """Step 2: report the medium lost (KeyService.report_loss, audited as the official)."""

    def body() -> Response:
        fields = _loss_fields(page)
        if page.form.get("cautious") == "1":
            fields = cautious_fields(page, fields)
        elif approximate(page.form):
            # Told "around" a time, no release close before it (the review found none in
            # the CLOSE_TO_LOSS before it): the report covers that margin too, from
            # CLOSE_TO_LOSS before the time told, which is kept (spec §loss told_at), so
            # the report says "around" it and the period covered (twenty-second session:
            # two newcomers asked whether "around" widened the report, and a window
            # starting at 03:41:00 could not show a key given at 03:38). A release the
            # review did not see (given since) is counted: the answer then says "depends".
            told = fields["lost_at"]
            fields = {**fields, "lost_at": told - CLOSE_TO_LOSS, "told_at": told}
        result = page.service.report_loss(
            page.principal,
            fields["name"],
            reason=fields["reason"],
            public_reason=fields["public_reason"] or None,
            waiting_period=timedelta(hours=fields["waiting_hours"]),
            lost_at=fields["lost_at"],
            told_at=fields.get("told_at"),
            ctx=page.ctx,
        )
        if result.get("approval_required"):  # an early destroy: a second official decides
            return approvals_page(page, created=result["approval"])
        # Issue 12: straight to the medium report (the next step of every loss), with the
        # result on top. POST-redirect-GET, so a reload never reports again. The URL names
        # only the report's audit entry: the banner is read back from that server-side
        # record (_routes_report.loss_banner), never from text in the URL.
        seq = reported_seq(page, result["medium"])
        flash = f"&reported={seq}" if seq is not None else ""
        return redirect(medium_url(result["medium"], "/report") + flash)

    return page.act(body, medium_url(page.form.get("name", "")))


@router.post("/medium/restore")
def restore(page: PostedPage) -> Response:
    """Lift one cause of suspension on a medium (KeyService.change_state, spec §lifecycle).

    The default cause is the loss report (the medium was found); a suspension caused by
    the attempt budget or by an official stays unless its cause is chosen, and the result
    page says what was left suspended and why.
    """

    def body() -> Response:
        name = page.form.get("name", "")
        reason = page.form.get("reason", "").strip()
        cause = page.form.get("cause", "")
        if not reason:
            raise page.invalid(N_("The reason is required."))
        if cause not in RESTORE_CAUSES:
            raise page.invalid(N_("Choose which suspensions to lift."))
        result = page.service.change_state(
            page.principal, Op.RESTORE, "medium", name, reason, cause=cause, ctx=page.ctx
        )
        doc = page.service.console_medium(page.principal, name, ctx=page.ctx)
        return page.render("done.html", what="restore", result=result, doc=doc, cause=cause)

    return page.act(body, medium_url(page.form.get("name", "")))


def _destroy_page(page: Page, name: str, status: int = 200, *, mismatch: bool) -> Response:
    doc = page.service.console_medium(page.principal, name, ctx=page.ctx)
    sources, _ = TRANSITIONS[Op.DESTROY]
    containers = [
        {**c, "effect": "changes" if State(c["state"]) in sources else "unchanged"}
        for c in doc["containers"]
    ]
    return page.render(
        "confirm_destroy.html",
        status=status,
        doc=doc,
        containers=containers,
        changing=sum(1 for c in containers if c["effect"] == "changes"),
        mismatch=mismatch,
    )


@router.get("/medium/destroy")
def destroy_form(page: SignedInPage, name: str = "") -> Response:
    """Destroy now: every container it will erase, and a typed confirmation."""
    return page.act(lambda: _destroy_page(page, name, mismatch=False), medium_url(name))


@router.post("/medium/destroy")
def destroy(page: PostedPage) -> Response:
    """Destroy a medium's keys now (crypto-erasure; KeyService.change_state)."""

    def body() -> Response:
        name = page.form.get("name", "")
        reason = page.form.get("reason", "").strip()
        if page.form.get("typed", "") != name:
            return _destroy_page(page, name, 400, mismatch=True)
        if not reason:
            raise page.invalid(N_("The reason is required."))
        result = page.service.change_state(
            page.principal, Op.DESTROY, "medium", name, reason, ctx=page.ctx
        )
        if result.get("approval_required"):  # spec §approvals: a second official decides
            return approvals_page(page, created=result["approval"])
        doc = page.service.console_medium(page.principal, name, ctx=page.ctx)
        return page.render("done.html", what="destroy", result=result, doc=doc)

    return page.act(body, medium_url(page.form.get("name", "")))
