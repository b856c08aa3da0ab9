"""What ``keyserver`` asks before an action, and what it refuses without asking (issue 12, ops10).

spec §cli: ``destroy``, ``report-loss --now``, ``reset-budget`` and ``approvals approve``
show what they affect and ask once. The question carries the server's text (labels,
media, principal names). The server forbids control characters in them, but a label is
outside the row MAC (spec §row-integrity): one edited in the database, or a hostile
server, reaches the official's terminal unless the command neutralises it. Here the
database is edited as such an attacker would, and a real server answers.

Without a terminal and without ``--yes`` the command refuses; ``reset-budget`` destroys
nothing, so its refusal names what it would have done, in the command's language.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, update

from keyserver._domain.i18n import ngettext, translate
from keyserver._domain.validation import decode_container_id
from keyserver._store.models import Approval, Container
from tests.support import keyserver_cli as h
from tests.support.keyserver_cli import DataDir, People, TtyInput

# A screen clear, a window title ending in BEL, and a line break with a line of its own.
HOSTILE = "payroll\x1b[2J\x1b]0;all fine\x07\nNothing will be destroyed."
NEUTRAL = "payroll [2J ]0;all fine  Nothing will be destroyed."


def _edit(data_dir: DataDir, statement: Any) -> None:
    """Change the database behind the server's back, as someone with access to it could."""
    engine = create_engine(data_dir.settings().database_url)
    try:
        with engine.begin() as connection:
            connection.execute(statement)
    finally:
        engine.dispose()


def _as(token: str, **extra: str) -> dict[str, str]:
    return h.clean_env(KEYSERVER_TOKEN=token, **extra)


def _asked(err: str) -> None:
    """No control character reached the terminal, and no line came from the server's text."""
    assert not any(ord(c) < 0x20 and c != "\n" for c in err), repr(err)
    assert "\x7f" not in err
    assert not any(line.startswith("Nothing will be destroyed.") for line in err.splitlines())


def test_a_label_with_escape_sequences_is_neutralised_in_the_question(
    cli: Any, data_dir: DataDir, people: People, server: str
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-ESC", attempt_budget=3)
    h.reader_evaluates(data_dir.settings(), people.reader, cid)
    cid_raw = decode_container_id(cid)
    _edit(data_dir, update(Container).where(Container.id == cid_raw).values(label=HOSTILE))
    env = _as(people.official)
    for argv in (
        ("destroy", cid, "--reason", "ended"),
        ("report-loss", "--medium", "USB-ESC", "--now", "--reason", "lost"),
        ("reset-budget", cid, "--reason", "asked"),
    ):
        declined = cli(*argv, "--server", server, env=env, stdin=TtyInput("no\n"))
        assert declined.code == 8, declined
        _asked(declined.err)
        assert NEUTRAL in declined.err, (argv, declined.err)
    status = h.container_status(data_dir.settings(), cid)
    assert (status["state"], status["unconfirmed"]) == ("active", 1)


# ops11: bidi controls (U+202E RIGHT-TO-LEFT OVERRIDE, U+2066 LEFT-TO-RIGHT ISOLATE) and a
# zero-width space. The server refuses only control characters in labels (spec/protocol.md
# §conventions), so such a label can be registered as well as edited in: a terminal that
# obeyed them would show "evil<RLO>txt.exe" as "evilexe.txt".
BIDI = "evil\u202etxt.exe\u2066 \u200b\\u202e"
BIDI_SHOWN = "evil\\u202etxt.exe\\u2066 \\u200b\\u202e"
_DIRECTION = frozenset("\u200e\u200f\u061c\u200b") | {chr(c) for c in range(0x202A, 0x202F)}
_DIRECTION |= {chr(c) for c in range(0x2066, 0x206A)}


def test_a_label_with_bidi_controls_is_shown_as_code_points(
    cli: Any, data_dir: DataDir, people: People, server: str
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-RLO")
    cid_raw = decode_container_id(cid)
    _edit(data_dir, update(Container).where(Container.id == cid_raw).values(label=BIDI))
    env = _as(people.official)
    shown = cli("status", cid, "--server", server, env=env)
    assert shown.code == 0, shown
    found = cli("search", "--medium", "USB-RLO", "--server", server, env=env)
    assert found.code == 0, found
    declined = cli(
        "destroy", cid, "--reason", "ended", "--server", server, env=env, stdin=TtyInput("no\n")
    )
    assert declined.code == 8, declined
    for text in (shown.out, found.out, declined.err):
        assert not _DIRECTION & set(text), repr(text)
    # The whole label, each control as its code point, escaped once although the question's
    # text is made safe twice (at the network edge and where it is printed).
    assert BIDI_SHOWN in shown.out.replace("\n", ""), shown.out
    assert BIDI_SHOWN in declined.err, declined.err
    # --json keeps the stored text as it is (a script reads values, not a terminal).
    assert cli("status", cid, "--json", "--server", server, env=env).json()["label"] == BIDI
    assert h.container_status(data_dir.settings(), cid)["state"] == "active"


def test_a_requester_name_with_escape_sequences_is_neutralised(
    cli: Any, data_dir: DataDir, people: People, server: str
) -> None:
    h.make_container(data_dir.settings(), people.writer, medium="USB-TWO")
    second = h.add_principal(cli, data_dir, "suzuki", "official")
    # A bulk destroy waits for a second official (spec §approvals): request 1.
    request = ("destroy", "--medium", "USB-TWO", "--reason", "gone", "--yes")
    asked = cli(*request, "--server", server, env=_as(people.official))
    assert asked.code == 0 and "request 1 created" in asked.out, asked
    _edit(data_dir, update(Approval).where(Approval.id == 1).values(requested_by=HOSTILE))
    approve = ("approvals", "approve", "1", "--server", server)
    declined = cli(*approve, env=_as(second), stdin=TtyInput("no\n"))
    assert declined.code == 8, declined
    _asked(declined.err)
    assert f"Approve request 1 of {NEUTRAL}: Key destruction (destroy)?" in declined.err, (
        declined.err
    )


@pytest.mark.parametrize("language", ["ja", "en"])
def test_reset_budget_without_a_terminal_says_what_it_refuses(
    cli: Any, data_dir: DataDir, people: People, server: str, language: str
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-RB", attempt_budget=3)
    h.reader_evaluates(data_dir.settings(), people.reader, cid)
    env = _as(people.official, KEYSERVER_LANG=language)
    refused = cli("reset-budget", cid, "--reason", "asked", "--server", server, env=env)
    assert refused.code == 2, refused
    said = ngettext(
        "refusing to reset the attempt count of %(count)s container without confirmation",
        "refusing to reset the attempt count of %(count)s containers without confirmation",
        1,
        count=1,
    ).text(language)
    assert f"error: {said}" in refused.err, refused.err
    assert translate(language, "pass --yes to confirm non-interactively", {}) in refused.err
    # Not called destructive: it destroys nothing (a destroy still is).
    destructive = translate(language, "refusing a destructive action without confirmation", {})
    assert destructive not in refused.err
    if language == "ja":
        assert "refusing" not in refused.err
    assert h.container_status(data_dir.settings(), cid)["unconfirmed"] == 1
    destroy = cli("destroy", cid, "--reason", "ended", "--server", server, env=env)
    assert destroy.code == 2 and destructive in destroy.err, destroy
