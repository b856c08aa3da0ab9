"""rwc's own texts for readers (pycontainer/cli/texts.py): complete in both languages."""

from __future__ import annotations

import string
import time

import pytest

from pycontainer.cli import refusals, texts
from pycontainer.client import connection
from pycontainer.errors import REFUSAL_KINDS, Refusal, WrongPasswordError
from pycontainer.format import keyschedule


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(texts.TEXTS))
def test_every_text_in_both_languages_with_the_same_values(key: str) -> None:
    entry = texts.TEXTS[key]
    assert sorted(entry) == sorted(texts.LANGUAGES)
    assert entry["ja"] and entry["ja"] != entry["en"]
    assert _fields(entry["ja"]) == _fields(entry["en"])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),
        ({"RWC_LANG": "ja"}, "ja"),
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "ja_JP.UTF-8"}, "en"),
        ({"RWC_LANG": "en", "LC_ALL": "ja_JP.UTF-8"}, "en"),
        ({"KEYSERVER_LANG": "ja"}, "en"),  # the other command's switch is not rwc's
    ],
)
def test_language_choice(env: dict[str, str], expected: str) -> None:
    assert texts.language(env) == expected


def test_say_fills_values() -> None:
    assert (
        texts.say("attempts_left_container", "ja", left=2)
        == "あと 2 回失敗すると、鍵サーバーがコンテナを停止します"
    )
    assert texts.say("attempts_left_container", "en", left=2).startswith("2 attempts left")


@pytest.mark.parametrize("key", sorted(texts.COUNTED))
def test_a_count_of_attempts_in_the_singular_and_plural(key: str) -> None:
    """ "only 1 attempt left", "only 2 attempts left" (was "attempt(s)"); Japanese says
    every number one way."""
    assert "{left} attempt " in texts.TEXTS[key]["en"]
    one, two = (texts.say(key, "en", left=n) for n in (1, 2))
    assert "1 attempt left" in one and "2 attempts left" in two
    assert one.replace("1 attempt ", "2 attempts ") == two
    assert texts.say(key, "ja", left=1).replace("1", "2") == texts.say(key, "ja", left=2)
    assert "(s)" not in one + two


ALL_FACTS = {
    "action": "evaluate",
    "status": "423",
    "slug": "pending",
    "time": "2026-11-20T10:00:00Z",
    "reason": "USB紛失",
    "names": "clerk@city.example",
    "field": "label",
    "errors": "body.x: bad",
    "url": "https://ks.city.example",
    "why": "the proxy ftp://p is not supported",  # words without a translation: as said
    "media": "text/html",
    "contact": "desk",
}


@pytest.mark.parametrize("kind", REFUSAL_KINDS)
def test_every_refusal_has_a_sentence_and_a_next_step_in_both_languages(kind: str) -> None:
    # Every fact a refusal can carry, a detail in each language: nothing is left unfilled.
    assert f"refusal_{kind}" in texts.TEXTS and f"refusal_{kind}_hint" in texts.TEXTS
    for detail_language in texts.LANGUAGES:
        refusal = Refusal(kind, ALL_FACTS, detail="said", detail_language=detail_language)
        for lang in texts.LANGUAGES:
            message, hint = refusals.render(refusal, lang)
            assert message.startswith(texts.say(f"refusal_{kind}", lang, **_values(lang)))
            assert "{" not in message + hint and "desk" in message
            assert hint.endswith(texts.say(f"refusal_{kind}_hint", lang, **_values(lang)))


def _values(lang: str) -> dict[str, str]:
    return {**ALL_FACTS, "action": texts.say("action_evaluate", lang)}


@pytest.mark.parametrize(
    ("text", "tz", "shown"),
    [
        ("2026-11-20T10:00:00Z", "Asia/Tokyo", "2026-11-20 19:00:00 +09:00"),
        ("2026-11-20T10:00:00+00:00", "America/St_Johns", "2026-11-20 06:30:00 -03:30"),
        ("2026-11-20T10:00:00", "Asia/Tokyo", "2026-11-20T10:00:00"),  # no offset: as given
        ("not a time", "Asia/Tokyo", "not a time"),
    ],
)
def test_times_are_shown_in_the_zone_with_the_offset(
    text: str, tz: str, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", tz)
    time.tzset()
    try:
        assert refusals.local_time(text) == shown
    finally:
        monkeypatch.undo()
        time.tzset()


def test_why_a_server_was_not_reached_is_the_connections_own_english() -> None:
    # refusals.py finds the reader's words for a connection failure by its English.
    said = {
        connection.TIMED_OUT,
        connection.CONNECTION_FAILED,
        connection.CONNECTION_LOST,
        connection.CERT_NAME_MISMATCH,
        connection.CERT_UNTRUSTED,
        connection.CERT_EXPIRED,
        connection.CERT_NOT_YET_VALID,
        connection.CERT_SELF_SIGNED,
        connection.CERT_REFUSED,
        connection.TLS_HANDSHAKE_FAILED,
        connection.PROXY_AUTH_REQUIRED,
        connection.PROXY_AUTH_REFUSED,
        connection.PROXY_REFUSED,
    }
    assert {texts.TEXTS[key]["en"] for key in refusals.WHY_KEYS} == said
    unreachable = Refusal("unreachable", {"url": "https://ks.example", "why": "timed out"})
    assert refusals.render(unreachable, "ja")[0] == (
        "鍵サーバー https://ks.example に接続できません(時間内に応答がありません)"
    )


def test_each_tls_failure_has_its_own_next_step_the_librarys_in_english() -> None:
    # --json carries the library's hint (connection.TLS_HINTS); rwc says the same, by why.
    hints = {}
    for key in refusals.WHY_KEYS:
        why = texts.TEXTS[key]["en"]
        if why in connection.TLS_HINTS:
            ours = texts.TEXTS["refusal_tls_hint_" + key.removeprefix("why_")]
            assert ours["en"] == connection.TLS_HINTS[why], key
            hints[why] = refusals.render(Refusal("tls", {"url": "u", "why": why}), "ja")[1]
            assert hints[why] == ours["ja"]
    assert set(hints) == set(connection.TLS_HINTS)
    # Only an unknown CA is sent to --ca-bundle; a wrong name to the address.
    assert [w for w, hint in hints.items() if "--ca-bundle" in hint] == [connection.CERT_UNTRUSTED]
    assert "RWC_SERVER" in hints[connection.CERT_NAME_MISMATCH]


def test_a_proxys_refusal_has_its_own_next_step_the_librarys_in_english() -> None:
    for why, english in connection.PROXY_HINTS.items():
        key = next(k for k in refusals.WHY_KEYS if texts.TEXTS[k]["en"] == why)
        ours = texts.TEXTS["refusal_unreachable_hint_" + key.removeprefix("why_")]
        assert ours["en"] == english, key
        refusal = Refusal("unreachable", {"url": "u", "why": why})
        assert refusals.render(refusal, "ja")[1] == ours["ja"]


def test_the_wrong_password_in_english_is_the_librarys() -> None:
    # --json carries the library's message; rwc's English for people must not drift from it.
    with pytest.raises(WrongPasswordError) as info:
        keyschedule.unwrap(bytes(32), bytes(12), bytes(80), b"")
    assert info.value.message == texts.say("wrong_password", "en")
    assert info.value.hint == texts.say("wrong_password_hint", "en")
