"""Problem-document mapping on bytes (the live-server mappings are in test_client_live.py)."""

import json

from pycontainer.client.problems import clean_text, problem_to_error
from pycontainer.errors import (
    KeyServerCallError,
    KeyServerDeniedError,
    KeyServerInvalidValueError,
    KeyServerProtocolError,
    KeyServerRevokedError,
    KeyServerUnavailableError,
    KeyServerUnknownNameError,
)

PJ = "application/problem+json"


def doc(**kw: object) -> bytes:
    return json.dumps(kw).encode()


def test_destroyed_carries_date_reason_contact() -> None:
    err = problem_to_error(
        410,
        PJ,
        doc(
            type="urn:rwc:problem:destroyed",
            status=410,
            revoked_at="2026-11-20T10:00:00Z",
            reason="medium reported lost",
            contact="security@city.example",
        ),
        what="release the key",
    )
    assert isinstance(err, KeyServerRevokedError)
    assert err.revoked_at == "2026-11-20T10:00:00Z"
    assert err.reason == "medium reported lost"
    assert err.contact == "security@city.example"
    for part in ("2026-11-20T10:00:00Z", "medium reported lost", "security@city.example"):
        assert part in str(err)


def test_terminal_escapes_from_server_are_neutralised() -> None:
    err = problem_to_error(
        403,
        PJ,
        doc(type="urn:rwc:problem:not-allowed", detail="no\x1b[31m way\x07", contact=None),
        what="release the key",
    )
    assert isinstance(err, KeyServerDeniedError)
    assert "\x1b" not in str(err) and "\x07" not in str(err)
    assert clean_text("a" * 1000) is not None and len(clean_text("a" * 1000) or "") == 500


def test_html_error_page_5xx_is_unavailable_4xx_is_protocol() -> None:
    assert isinstance(
        problem_to_error(502, "text/html", b"<html>bad gateway</html>", what="x"),
        KeyServerUnavailableError,
    )
    assert isinstance(
        problem_to_error(400, "text/html", b"<html>nope</html>", what="x"),
        KeyServerProtocolError,
    )


def test_unknown_slug_is_generic_with_server_detail() -> None:
    err = problem_to_error(
        409, PJ, doc(type="urn:rwc:problem:pending", detail="never committed"), what="x"
    )
    assert type(err) is KeyServerCallError
    assert "never committed" in str(err)


def test_attempts_exhausted_is_a_denial_that_says_to_wait() -> None:
    # protocol §receipt: the window caps refuse with 429; the reader is told to wait.
    err = problem_to_error(
        429,
        PJ,
        doc(type="urn:rwc:problem:attempts-exhausted", status=429, contact="desk"),
        what="release the key",
    )
    assert isinstance(err, KeyServerDeniedError)
    assert "too many unconfirmed attempts" in str(err)
    assert err.hint is not None and "wait" in err.hint and "desk" in err.hint


def test_unknown_name_with_suggestions_is_a_typo_not_a_version_mismatch() -> None:
    err = problem_to_error(
        400,
        PJ,
        doc(
            type="urn:rwc:problem:invalid-request",
            status=400,
            detail="unknown reader principals: clrek@city.example",
            suggestions=["clerk@city.example", "\x1b[2Jevil"],
        ),
        what="register a container",
    )
    assert isinstance(err, KeyServerUnknownNameError)
    assert "unknown reader principals: clrek@city.example" in str(err)
    assert err.hint is not None and err.hint.startswith("did you mean clerk@city.example, ")
    assert "\x1b" not in err.hint and "compatible versions" not in err.hint
    # Without the suggestions member it stays what it was: a request the server did not take.
    plain = problem_to_error(
        400, PJ, doc(type="urn:rwc:problem:invalid-request", status=400), what="register"
    )
    assert type(plain) is KeyServerProtocolError


def test_a_refused_medium_is_a_usage_error_not_a_version_mismatch() -> None:
    # spec/protocol.md §problems: `field` marks a value the user chose.
    body = doc(
        type="urn:rwc:problem:invalid-request",
        status=400,
        detail="medium contains U+7D4C, which is not allowed",
        field="medium",
    )
    err = problem_to_error(400, PJ, body, what="register the container")
    assert isinstance(err, KeyServerInvalidValueError)
    assert err.field == "medium"
    assert "U+7D4C" in str(err)
    assert "compatible versions" not in (err.hint or "")
    # Without `field` (a schema violation): the client and server disagree on the protocol.
    plain = doc(type="urn:rwc:problem:invalid-request", status=400, detail="bad element")
    err = problem_to_error(400, PJ, plain, what="register the container")
    assert isinstance(err, KeyServerProtocolError)
    assert "compatible versions" in (err.hint or "")


def test_bidi_and_zero_width_characters_are_shown_as_code_points() -> None:
    # ops11: the one name policy of rwc (display_name) applies to server text too, so a
    # label with U+202E cannot reorder what the keyserver command or rwc shows.
    assert clean_text("evil\u202etxt.exe") == "evil\\u202etxt.exe"
    for ch in ("\u200e", "\u200f", "\u061c", "\u202a", "\u202e", "\u2066", "\u2069", "\ufeff"):
        assert ch not in (clean_text(f"a{ch}b") or ""), hex(ord(ch))
    # Controls still become spaces; Japanese text is unchanged.
    assert clean_text("a\x1b[2Jb") == "a [2Jb"
    assert clean_text("紛失した媒体 USB-1") == "紛失した媒体 USB-1"
    # Made safe at the network edge and again where printed: the second pass changes nothing.
    once = clean_text("C:\\data evil\u202etxt \\u202e") or ""
    assert clean_text(once) == once == "C:\\data evil\\u202etxt \\u202e"
