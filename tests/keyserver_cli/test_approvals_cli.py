"""``keyserver`` with two officials (spec §approvals), remote mode against a real server.

The first official's ``destroy --medium`` says "request N created, awaiting a second
official" and changes nothing; the same official cannot approve it; a second official
lists it, is shown what it affects, and approves (it is carried out) or rejects; in
Japanese on request; ``--json`` keeps the protocol's documents.
"""

from __future__ import annotations

from typing import Any

from keyserver._service import KeyService
from tests.support import keyserver_cli as h
from tests.support.keyserver_cli import Cli, DataDir, People


def _state(data_dir: DataDir, cid: str) -> str:
    service = KeyService(data_dir.settings())
    try:
        return str(service.status(service.local_actor("t"), cid)["state"])
    finally:
        service.close()


def _as(token: str, **extra: str) -> dict[str, str]:
    return h.clean_env(KEYSERVER_TOKEN=token, **extra)


def test_destroy_medium_waits_for_a_second_official(
    cli: Cli, data_dir: DataDir, people: People, server: str
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-2022-06-AMA")
    second = h.add_principal(cli, data_dir, "suzuki", "official")
    srv = ("--server", server)
    asked = cli(
        "destroy", "--medium", "usb-2022-06-ama", "--reason", "not found", "--yes", *srv,
        env=_as(people.official),
    )  # fmt: skip
    assert asked.code == 0, asked
    assert "request 1 created, awaiting a second official" in asked.out
    assert "This affects 1 container on medium USB-2022-06-AMA:" in asked.out
    assert "- export" in asked.out
    assert "keyserver approvals approve 1" in asked.out
    assert _state(data_dir, cid) == "active"

    # The requester cannot approve their own request (exit 4: not allowed).
    own = cli("approvals", "approve", "1", "--yes", *srv, env=_as(people.official))
    assert own.code == 4, own
    assert "second, different official" in own.err
    assert _state(data_dir, cid) == "active"

    listed = cli("approvals", "list", "--state", "pending", "--json", *srv, env=_as(second))
    assert listed.code == 0, listed
    (request,) = listed.json()["approvals"]
    assert (request["id"], request["requested_by"]) == (1, "official")
    # Without --yes and without a terminal: refused, after showing what it affects.
    unconfirmed = cli("approvals", "approve", "1", *srv, env=_as(second))
    assert unconfirmed.code == 2 and "This affects 1 container" in unconfirmed.err
    declined = cli("approvals", "approve", "1", *srv, env=_as(second), stdin=h.TtyInput("no\n"))
    assert declined.code == 8 and _state(data_dir, cid) == "active"
    done = cli("approvals", "approve", "1", *srv, env=_as(second), stdin=h.TtyInput("yes\n"))
    assert done.code == 0, done
    assert "request 1 approved and carried out" in done.out
    assert _state(data_dir, cid) == "destroyed"
    shown = cli("approvals", "show", "1", "--json", *srv, env=_as(people.auditor)).json()
    assert (shown["state"], shown["decided_by"]) == ("approved", "suzuki")


def test_reject_and_japanese(cli: Cli, data_dir: DataDir, people: People, server: str) -> None:
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-J")
    second = h.add_principal(cli, data_dir, "suzuki", "official")
    srv = ("--server", server)
    asked = cli(
        "report-loss", "--medium", "USB-J", "--now", "--reason", "lost", "--yes", *srv,
        env=_as(people.official, KEYSERVER_LANG="ja"),
    )  # fmt: skip
    assert asked.code == 0, asked
    assert "申請 1 を作成しました。別の担当職員の承認を待っています" in asked.out
    assert _state(data_dir, cid) == "suspended"
    rejected = cli(
        "approvals", "reject", "1", "--reason", "found it", *srv,
        env=_as(second, KEYSERVER_LANG="ja"),
    )  # fmt: skip
    assert rejected.code == 0 and "申請 1 を却下しました" in rejected.out
    # The loss itself was reported at once (suspended); only the early destroy was refused.
    assert _state(data_dir, cid) == "suspended"
    late = cli("approvals", "approve", "1", "--yes", *srv, env=_as(second))
    assert late.code == 6, late  # conflict: already rejected
    assert cli("approvals", "approve", "x", *srv, env=_as(second)).code == 2


def test_json_request_document(cli: Cli, data_dir: DataDir, people: People, server: str) -> None:
    h.make_container(data_dir.settings(), people.writer, medium="USB-K")
    result = cli(
        "destroy", "--medium", "USB-K", "--reason", "r", "--yes", "--json", "--server", server,
        env=_as(people.official),
    )  # fmt: skip
    assert result.code == 0, result
    doc: dict[str, Any] = result.json()
    assert doc["approval_required"] is True
    assert doc["approval"]["affects"]["count"] == 1


def test_a_request_is_said_in_its_own_words(
    cli: Cli, data_dir: DataDir, people: People, server: str
) -> None:
    """A pending request read as a container awaiting registration (issue 12, ops12).

    Before, ``approvals list`` and ``approvals show`` said a request's state with the
    container's words: 登録待ち ("awaiting registration") for a request awaiting its second
    official, the English titles ``request 1`` and ``medium USB-W`` in Japanese. ``--json``
    keeps the protocol's values.
    """
    h.make_container(data_dir.settings(), people.writer, medium="USB-W")
    second = h.add_principal(cli, data_dir, "suzuki", "official")
    srv = ("--server", server)
    asked = cli(
        "destroy", "--medium", "USB-W", "--reason", "lost", "--yes", *srv,
        env=_as(people.official, KEYSERVER_LANG="ja"),
    )  # fmt: skip
    assert asked.code == 0, asked
    assert "媒体 USB-W の 1 件のコンテナが対象です" in asked.out, asked.out

    def run(*argv: str, lang: str) -> str:
        result = cli("approvals", *argv, *srv, env=_as(second, KEYSERVER_LANG=lang))
        assert result.code == 0, result
        return result.out

    ja = run("list", lang="ja") + run("show", "1", lang="ja")
    assert "承認待ち" in ja and "登録待ち" not in ja, ja
    assert "申請 1" in ja and "request 1" not in ja
    assert "鍵の破棄 (destroy)" in ja and "媒体" in ja
    en = run("list", lang="en")
    assert "awaiting approval" in en and "pending" not in en, en
    (listed,) = cli("approvals", "list", "--json", *srv, env=_as(second)).json()["approvals"]
    assert (listed["state"], listed["scope"]) == ("pending", "medium")
    rejected = cli("approvals", "reject", "1", "--reason", "found", *srv, env=_as(second))
    assert rejected.code == 0, rejected
    assert "却下済み" in run("list", lang="ja") and "rejected" in run("list", lang="en")
