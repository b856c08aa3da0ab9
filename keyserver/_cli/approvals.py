"""``keyserver approvals list|show|approve|reject``: two officials for the irreversible.

spec §approvals. A gated command (``destroy --medium``, ``report-loss --now``, a token for
an official ...) answers "request N created, awaiting a second official" with what it will
affect (:func:`print_requested`); a second official finds it with ``approvals list``, reads
it with ``approvals show N`` and carries it out with ``approvals approve N``, which shows
what it affects and asks once (``--yes`` for scripts), or turns it down with ``approvals
reject N --reason TEXT``. The server decides who may approve; this module only shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from keyserver._cli import paging
from keyserver._cli.errors import EXIT_OK
from keyserver._cli.labels import REQUEST_VALUES, VALUES
from keyserver._domain import approvals
from keyserver._domain.i18n import N_, Message, ngettext

if TYPE_CHECKING:
    import argparse

    from keyserver._cli.backend import Backend
    from keyserver._cli.context import Context

# The domain's request states (spec §approvals), not a copy of them (issue 9).
STATES = tuple(state.value for state in approvals.State)
LIST_COLUMNS = (
    "id",
    "state",
    "action",
    "scope",
    "target",
    "requested_by",
    "requested_at",
    "expires_at",
    "decided_by",
)
PREVIEW_LABELS = 10


def add_parser(
    add: Callable[[str, str], argparse.ArgumentParser],
    common: Callable[[argparse.ArgumentParser], None],
    settings_flags: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Register ``approvals`` and its actions on the main parser.

    ``add``, ``common`` and ``settings_flags`` are keyserver/_cli/parser.py's: every action
    takes the common options (``--server``, ``--json``, ``--yes`` ...).
    """
    sub = add("approvals", N_("requests for irreversible actions awaiting a second official").msgid)
    actions = sub.add_subparsers(dest="sub", metavar="ACTION", parser_class=type(sub))
    actions.required = True
    p = actions.add_parser("list", help=N_("requests by number (default: all states)").msgid)
    common(p)
    p.add_argument("--state", choices=STATES, help=N_("only requests in this state").msgid)
    paging.add_limit(p)
    p.add_argument("--after", type=int, metavar="ID", help=N_("continue after this request").msgid)
    settings_flags(p)
    for name, text in (
        ("show", N_("one request and what it affects").msgid),
        ("approve", N_("approve a request of another official: it is carried out now").msgid),
        ("reject", N_("reject a request (or withdraw your own)").msgid),
    ):
        p = actions.add_parser(name, help=text, description=text)
        common(p)
        p.add_argument("id", type=int, help=N_("the request number").msgid)
        if name == "reject":
            p.add_argument(
                "--reason", required=True, help=N_("why (audited, shown to the requester)").msgid
            )
        settings_flags(p)


def cmd_approvals(ctx: Context, b: Backend) -> int:
    """``approvals list|show|approve|reject``."""
    a = ctx.args
    if a.sub == "list":
        page = b.approvals_list(a.state, a.after, paging.page_size(a.limit))
        if ctx.out.as_json:
            ctx.out.json(page)
            return EXIT_OK
        ctx.out.rows(
            page.get("approvals", []),
            LIST_COLUMNS,
            title=N_("approval requests"),
            words=REQUEST_VALUES,
        )
        if page.get("next") is not None:
            ctx.out.note(N_("more: --after %(next)s", next=page["next"]))
        return EXIT_OK
    if a.sub == "show":
        request = b.approval_show(a.id)
        if ctx.out.as_json:
            ctx.out.json(request)
        else:
            _show(ctx, request)
        return EXIT_OK
    if a.sub == "approve":
        if not ctx.opt("yes", default=False):
            # spec §cli: a destructive action shows what it will affect and asks once.
            request = b.approval_show(a.id)
            _show(ctx, request, to_stderr=True)
            ctx.confirm(
                N_(
                    # The action in words with its word after it, in no parentheses of
                    # its own ("(Key destruction (destroy))": cli48).
                    "Approve request %(id)s of %(requester)s: %(action)s? It is carried out now.",
                    id=a.id,
                    # The server's text: through cell() (Context.confirm says why).
                    requester=ctx.out.cell("requested_by", request.get("requested_by")).plain,
                    action=ctx.out.cell("action", request.get("action"), REQUEST_VALUES).plain,
                )
            )
        done = b.approval_approve(a.id)
        if ctx.out.as_json:
            ctx.out.json(done)
            return EXIT_OK
        ctx.out.text(N_("request %(id)s approved and carried out", id=a.id))
        result = dict(done.get("result") or {})
        token = result.pop("token", None)
        ctx.out.record(result, title=N_("result"))
        if isinstance(token, str):
            ctx.out.secret("token", token)
        return EXIT_OK
    done = b.approval_reject(a.id, a.reason)
    if ctx.out.as_json:
        ctx.out.json(done)
    else:
        ctx.out.text(N_("request %(id)s rejected", id=a.id))
    return EXIT_OK


def print_requested(ctx: Context, result: Mapping[str, Any]) -> bool:
    """Say that a gated command made a request instead of acting (spec §approvals).

    Returns:
        True when ``result`` is such a request (it was printed), else False.
    """
    if not result.get("approval_required"):
        return False
    if ctx.out.as_json:
        ctx.out.json(dict(result))
        return True
    request = dict(result.get("approval") or {})
    loss = result.get("loss_report")
    if isinstance(loss, Mapping):
        # What was done at once: the loss is reported, everything on it is locked.
        ctx.out.record(loss, title=N_("loss report for %(medium)s", medium=loss.get("medium")))
    number = request.get("id")
    expires = ctx.out.cell("expires_at", request.get("expires_at")).plain
    if request.get("approver_role") == "admin":
        ctx.out.text(
            N_(
                "request %(id)s created, awaiting a second admin (expires %(expires)s); "
                "nothing was changed yet",
                id=number,
                expires=expires,
            )
        )
    else:
        ctx.out.text(
            N_(
                "request %(id)s created, awaiting a second official (expires %(expires)s); "
                "nothing was changed yet",
                id=number,
                expires=expires,
            )
        )
    for line in _affects_lines(request):
        ctx.out.text(line)
    ctx.out.text(
        N_("to approve it, another person runs: keyserver approvals approve %(id)s", id=number)
    )
    return True


def affects_line(count: int, shown: int | str, what: str | Message) -> Message:
    """The line "This affects N containers on WHAT:" in the form of N (before confirming).

    ``shown`` is the count as said (``20+`` when the preview stopped counting), ``count``
    the number that picks the form.
    """
    return ngettext(
        "This affects %(count)s container on %(what)s:",
        "This affects %(count)s containers on %(what)s:",
        count,
        count=shown,
        what=what,
    )


def _affects_lines(request: Mapping[str, Any]) -> list[str | Message]:
    """What a request affects, for people: the count and labels, or the principal."""
    affects = dict(request.get("affects") or {})
    if "principal" in affects:
        roles = ", ".join(str(r) for r in affects.get("roles", []))
        return [
            N_("for principal %(name)s (roles: %(roles)s)", name=affects["principal"], roles=roles)
        ]
    count = int(affects.get("count", 0))
    scope = request.get("scope")
    what = N_(
        "%(scope)s %(target)s",
        scope=VALUES["scope"].get(str(scope), str(scope)),
        target=request.get("target"),
    )
    lines: list[str | Message] = [affects_line(count, count, what)]
    labels = [str(label) for label in affects.get("labels", [])][:PREVIEW_LABELS]
    lines += [f"  - {label}" for label in labels]
    if count > len(labels):
        lines.append(N_("  ... and %(count)s more", count=count - len(labels)))
    return lines


def _show(ctx: Context, request: Mapping[str, Any], *, to_stderr: bool = False) -> None:
    """A request for people: its fields, then what it affects."""
    if to_stderr:
        # Before a confirmation: stdout stays for the result.
        for line in _affects_lines(request):
            ctx.out.note(line)  # sanitised: labels are text from the server
        return
    shown = {k: v for k, v in request.items() if k not in {"affects", "params"}}
    shown.update({f"param {k}": v for k, v in dict(request.get("params") or {}).items()})
    ctx.out.record(shown, title=N_("request %(id)s", id=request.get("id")), words=REQUEST_VALUES)
    for line in _affects_lines(request):
        ctx.out.text(line)
