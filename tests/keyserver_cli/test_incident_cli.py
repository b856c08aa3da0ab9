"""The official's commands after a loss (issue 10): typos caught, confirmations that list
what they affect, the three-way report in the display zone, in Japanese on request."""

from __future__ import annotations

from typing import Any

import pytest

from keyserver._service import KeyService
from tests.support import keyserver_cli as h
from tests.support.world import unb64


def _state(data_dir: Any, cid: str) -> dict[str, Any]:
    service = KeyService(data_dir.settings())
    try:
        return dict(service.status(service.local_actor("t"), cid))
    finally:
        service.close()


def test_typo_exits_not_found_with_suggestion(
    cli: Any, data_dir: Any, people: Any, subtests: pytest.Subtests
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-2022-06-AMA")
    dd = data_dir.path
    for argv in (
        ("report-loss", "--medium", "USB-2022-06-AMX", "--reason", "lost"),
        ("suspend", "--medium", "USB-2022-06-AMX", "--reason", "lost"),
        ("media", "show", "USB-2022-06-AMX"),
        ("report", "--medium", "USB-2022-06-AMX"),
    ):
        with subtests.test(msg=" ".join(argv)):
            result = cli(*argv, "--data-dir", dd)
            assert result.code == 5, (argv, result)
            assert "did you mean USB-2022-06-AMA?" in result.err, result
            assert "Nothing was changed." in result.err  # once, in the error line
            assert result.err.count("did you mean") == 1
    assert _state(data_dir, cid)["state"] == "active"
    # Case and blanks do not matter: this is the same medium.
    result = cli("media", "show", " usb-2022-06-ama ", "--json", "--data-dir", dd)
    assert result.code == 0 and result.json()["medium"] == "USB-2022-06-AMA"
    listing = cli("media", "list", "--json", "--data-dir", dd).json()
    assert [(m["medium"], m["states"]) for m in listing["media"]] == [
        ("USB-2022-06-AMA", {"active": 1})
    ]


def test_short_waiting_period_lists_what_it_affects_and_asks_once(
    cli: Any, data_dir: Any, people: Any
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-S")
    dd = data_dir.path
    argv = ("report-loss", "--medium", "usb-s", "--waiting-period", "1h", "--reason", "lost")
    result = cli(*argv, "--data-dir", dd, stdin=h.TtyInput("no\n"))
    assert result.code == 8, result
    assert "This affects 1 container on medium USB-S:" in result.err
    assert "  - export" in result.err and result.err.count("Type 'yes'") == 1
    assert _state(data_dir, cid)["state"] == "active"
    # Without a terminal it needs --yes; a long waiting period does not ask.
    assert cli(*argv, "--data-dir", dd).code == 2
    result = cli(*argv[:-4], "--waiting-period", "48h", "--reason", "lost", "--data-dir", dd)
    assert result.code == 0, result
    assert _state(data_dir, cid)["state"] == "suspended"


def test_lost_at_and_the_report_in_the_display_zone(cli: Any, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer, medium="USB-Z")
    dd = data_dir.path
    naive = cli(
        "report-loss", "--medium", "USB-Z", "--lost-at", "2026-01-01T10:00", "--reason", "x",
        "--data-dir", dd,
    )  # fmt: skip
    assert naive.code == 2 and "offset" in naive.err
    # A thief releases a key after the loss and sends no receipt.
    lost = "2020-01-01T09:00:00+09:00"
    h.reader_evaluates(settings, people.reader, cid)
    result = cli(
        "report-loss", "--medium", "USB-Z", "--lost-at", lost, "--reason", "x", "--json",
        "--data-dir", dd,
    )  # fmt: skip
    assert result.code == 0 and result.json()["lost_at"] == "2020-01-01T00:00:00.000000Z"
    env = h.clean_env(KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")
    text = cli("report", "--medium", "USB-Z", "--data-dir", dd, env=env)
    assert text.code == 0, text
    # The answer and the time of loss in the console's report's words (issue 12), the
    # answer in its headline sentence (console46).
    assert text.out.splitlines()[:2] == [
        (
            "Medium USB-Z: After the time of loss (2020-01-01 09:00:00 +09:00), the city's"
            " reader reader was given a key to data on this medium; that it was opened is not"
            " confirmed."
        ),
        "Lost at: 2020-01-01 09:00:00 +09:00",
    ], text.out
    # Each attempt says what it is (spec §report kind): the writer's sealing is not an opening.
    assert "Sealed by its writer (creation)" in text.out
    assert "Key given to a reader" in text.out
    # Its result too, as the console's row (issue 12, console45: "Succeeded" beside the
    # creation alarmed newcomers); --json keeps the protocol's outcome.
    assert "Created (not an opening)" in text.out
    doc = cli("report", "--medium", "USB-Z", "--json", "--data-dir", dd).json()
    assert doc["answer"] == "possibly opened" and doc["lost_at"].endswith("Z")
    (container,) = doc["containers"]
    assert [a["kind"] for a in container["attempts"]] == ["creation", "release"]
    assert [a["outcome"] for a in container["attempts"]] == ["ok", "ok"]
    ja = h.clean_env(KEYSERVER_LANG="ja", KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")
    text = cli("report", "--medium", "USB-Z", "--data-dir", dd, env=ja)
    assert text.out.startswith(
        "媒体 USB-Z: 紛失の時刻(2020-01-01 09:00:00 +09:00)以降に、市の閲覧者 reader へこの媒体の"
        "データの鍵を渡しました。開いたかは確認されていません。\n"
    ), text.out
    assert "作成者による封緘" in text.out and "閲覧者へ鍵を渡した" in text.out
    assert "作成 (開封ではない)" in text.out
    bad = h.clean_env(KEYSERVER_DISPLAY_TIMEZONE="Mars/Olympus")
    result = cli("report", "--medium", "USB-Z", "--data-dir", dd, env=bad)
    assert result.code == 3 and "Asia/Tokyo" in result.err


def test_report_text_lists_the_answer_first(cli: Any, data_dir: Any, people: Any) -> None:
    """Issue 12: the container the press asks about comes first; --json keeps the id order."""
    settings = data_dir.settings()
    quiet = [h.make_container(settings, people.writer, medium="USB-O") for _ in range(4)]
    released = h.make_container(settings, people.writer, medium="USB-O")
    h.reader_evaluates(settings, people.reader, released)  # after the time of loss below
    dd = data_dir.path
    lost = ("--lost-at", "2020-01-01T09:00:00+09:00", "--reason", "x")
    assert cli("report-loss", "--medium", "USB-O", *lost, "--data-dir", dd).code == 0
    text = cli("report", "--medium", "USB-O", "--data-dir", dd)
    assert text.code == 0, text
    positions = [text.out.index(cid) for cid in (released, *sorted(quiet))]
    assert positions == sorted(positions), text.out
    doc = cli("report", "--medium", "USB-O", "--json", "--data-dir", dd).json()
    assert [c["container_id"] for c in doc["containers"]] == sorted([released, *quiet], key=unb64)


def test_media_list_shows_state_counts_in_words(cli: Any, data_dir: Any, people: Any) -> None:
    settings = data_dir.settings()
    first = h.make_container(settings, people.writer, medium="USB-C")
    for _ in range(2):
        h.make_container(settings, people.writer, medium="USB-C")
    dd = data_dir.path
    assert cli("suspend", first, "--reason", "check", "--data-dir", dd).code == 0
    for argv in (("media", "list"), ("media", "show", "USB-C")):
        result = cli(*argv, "--data-dir", dd)
        assert result.code == 0, result
        # As the console's medium page counts them (issue 12, cli48).
        assert "2 active, 1 suspended" in result.out, result.out
        assert "{" not in result.out
        ja = cli(*argv, "--data-dir", dd, env=h.clean_env(KEYSERVER_LANG="ja"))
        assert "有効 2 件, 利用停止中 1 件" in ja.out, ja.out
    # --json keeps the protocol's object.
    listing = cli("media", "list", "--json", "--data-dir", dd).json()
    assert listing["media"][0]["states"] == {"active": 2, "suspended": 1}


def test_a_waiting_period_out_of_range_is_refused_alike_with_the_range(
    cli: Any, data_dir: Any, people: Any, server: str
) -> None:
    """One policy (keyserver._domain.durations.waiting_period_of), local or over HTTP.

    The router clamped ``waiting_period_seconds`` before making a duration and the local
    backend did not; both now convert it one way and leave the range to the service, so
    the official reads the same refusal, with the allowed range, either way.
    """
    cid = h.make_container(data_dir.settings(), people.writer, medium="USB-W")
    argv = ("report-loss", "--medium", "USB-W", "--waiting-period", "400d", "--reason", "lost")
    said = {}
    for lang in ("en", "ja"):
        local = cli(*argv, "--data-dir", data_dir.path, env=h.clean_env(KEYSERVER_LANG=lang))
        env = h.clean_env(KEYSERVER_TOKEN=people.official, KEYSERVER_LANG=lang)
        remote = cli(*argv, "--server", server, env=env)
        assert (local.code, remote.code) == (6, 6), (local, remote)
        # The same refusal (the server adds its contact as a hint, for a remote official).
        assert local.err.splitlines()[0] == remote.err.splitlines()[0], (local, remote)
        said[lang] = local.err.splitlines()[0]
    assert said["en"].endswith(
        "Detail: the waiting period must be between 0 seconds and 365 days (invalid-request)"
    ), said
    assert "待機期間は 0 秒から 365 日の間にしてください" in said["ja"], said
    assert _state(data_dir, cid)["state"] == "active"


TOLD = "2020-01-01T09:00:40+09:00"


def test_report_text_says_the_time_told_beside_the_time_of_loss(
    cli: Any, data_dir: Any, people: Any
) -> None:
    """spec §report ``told_at`` (issue 12, seventeenth session): a loss counted from a key
    release just before the time the official was told (the console's "Not sure", or
    ``report-loss --told-at``) says the time told under the answer, as the console's
    report does (twentieth session's words: "Lost at: around … (as told)", then the period
    covered); a report without one says nothing more."""
    settings = data_dir.settings()
    h.make_container(settings, people.writer, medium="USB-T")
    h.make_container(settings, people.writer, medium="USB-U")
    h.make_container(settings, people.writer, medium="USB-V")
    dd = data_dir.path
    lost = ("--lost-at", "2020-01-01T09:00:00+09:00", "--reason", "x", "--json")
    told = cli("report-loss", "--medium", "USB-T", *lost, "--told-at", TOLD, "--data-dir", dd)
    assert told.code == 0, told
    assert told.json()["told_at"] == "2020-01-01T00:00:40.000000Z"
    assert cli("report-loss", "--medium", "USB-U", *lost, "--data-dir", dd).code == 0
    # Earlier than the time of loss: refused as the API refuses it, nothing reported.
    early = ("--told-at", "2020-01-01T08:59:00+09:00")
    refused = cli("report-loss", "--medium", "USB-V", *lost, *early, "--data-dir", dd)
    assert refused.code == 6 and "told_at must not be earlier than lost_at" in refused.err
    env = h.clean_env(KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")
    text = cli("report", "--medium", "USB-T", "--data-dir", data_dir.path, env=env)
    assert text.code == 0, text
    assert text.out.splitlines()[:3] == [
        (
            "Medium USB-T: Nobody opened any data on this medium after the time told (around"
            " 2020-01-01 09:00:40 +09:00)."
        ),
        "Lost at: around 2020-01-01 09:00:40 +09:00 (as told)",
        "Period covered: from 2020-01-01 09:00:00 +09:00",
    ], text.out
    ja = h.clean_env(KEYSERVER_LANG="ja", KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo")
    text = cli("report", "--medium", "USB-T", "--data-dir", data_dir.path, env=ja)
    assert text.out.splitlines()[1:3] == [
        "紛失日時: 2020-01-01 09:00:40 +09:00 頃 (連絡どおり)",
        "報告の対象期間: 2020-01-01 09:00:00 +09:00 以降",
    ], text.out
    plain = cli("report", "--medium", "USB-U", "--data-dir", data_dir.path, env=env)
    assert plain.out.splitlines()[1] == "Lost at: 2020-01-01 09:00:00 +09:00", plain.out
    assert "(as told)" not in plain.out and "Period covered" not in plain.out


def test_report_loss_names_the_period_covered_beside_a_time_told(
    cli: Any, data_dir: Any, people: Any
) -> None:
    """spec §loss ``told_at`` (twenty-third session): with a time told after the time of
    loss, ``report-loss``'s record names ``lost_at`` as the console's report does, "Period
    covered from", not "Lost at" beside "Time of loss as told" (two times of loss); without
    one it stays "Lost at"."""
    settings = data_dir.settings()
    h.make_container(settings, people.writer, medium="USB-T")
    h.make_container(settings, people.writer, medium="USB-U")
    lost = ("--lost-at", "2020-01-01T09:00:00+09:00", "--reason", "x")
    env = {"en": h.clean_env(), "ja": h.clean_env(KEYSERVER_LANG="ja")}
    told = cli(
        "report-loss",
        "--medium",
        "USB-T",
        *lost,
        "--told-at",
        TOLD,
        "--data-dir",
        data_dir.path,
        env=env["en"],
    )
    assert told.code == 0, told
    names = [line.split("  ")[0].strip() for line in told.out.splitlines()]
    assert "Period covered from" in names and "Lost at" not in names, told.out
    assert "Time of loss as told" in names, told.out
    plain = cli(
        "report-loss", "--medium", "USB-U", *lost, "--data-dir", data_dir.path, env=env["ja"]
    )
    assert plain.code == 0, plain
    assert "報告の対象期間の開始" not in plain.out and "紛失日時" in plain.out, plain.out
