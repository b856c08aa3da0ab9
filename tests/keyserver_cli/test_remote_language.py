"""Refusal details in the official's language over HTTP (issue 12, spec §problems).

``KEYSERVER_LANG=ja keyserver --server URL ...`` printed a Japanese lead sentence and then
the server's English ``detail``. The API now answers the detail in the language the client
asks for with ``Accept-Language`` (English without it, as before); the remote command asks
in its own language, except for ``--json``. Over a real socket (uvicorn on loopback).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from keyserver._domain.i18n import N_, Message, translate
from tests.support import keyserver_cli as h

TYPO = "USB-2022-06-AMX"
ENGLISH = f"no medium {TYPO!r}"
JAPANESE = translate("ja", "no medium %(medium)s", {"medium": repr(TYPO)})


def _ask(server: str, token: str, **headers: str) -> requests.Response:
    return requests.get(
        f"{server}/v1/media/{TYPO}/report",
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=30,
    )


def test_problem_detail_follows_accept_language(server: str, people: Any) -> None:
    plain = _ask(server, people.official)
    assert plain.status_code == 404
    assert plain.json()["detail"] == ENGLISH
    assert plain.headers["content-language"] == "en"
    japanese = _ask(server, people.official, **{"Accept-Language": "ja-JP, en;q=0.5"})
    assert japanese.status_code == 404
    assert japanese.headers["content-language"] == "ja"
    doc = japanese.json()
    assert doc["detail"] == JAPANESE
    # Only the detail is for people: the members a program reads are the same.
    assert {k: v for k, v in doc.items() if k != "detail"} == {
        k: v for k, v in plain.json().items() if k != "detail"
    }
    # A language the catalogue does not have gets English.
    french = _ask(server, people.official, **{"Accept-Language": "fr"})
    assert french.json()["detail"] == ENGLISH
    assert french.headers["content-language"] == "en"


def test_remote_command_in_japanese_says_no_english_sentence(
    cli: Any, data_dir: Any, people: Any, server: str
) -> None:
    h.make_container(data_dir.settings(), people.writer, medium="USB-2022-06-AMA")
    env = h.clean_env(KEYSERVER_TOKEN=people.official, KEYSERVER_LANG="ja")
    result = cli("report", "--medium", TYPO, "--server", server, env=env)
    assert result.code == 5, result
    assert JAPANESE in result.err
    assert "もしかして USB-2022-06-AMA ですか?" in result.err
    # Besides the program's name, its line labels, the slug and the media's names, no
    # English word is left.
    words = set(re.findall(r"[A-Za-z]{2,}", result.err))
    assert words <= {"keyserver", "error", "hint", "not", "found", "USB", "AMX", "AMA"}, result.err
    # The local command says it the same way.
    local = cli("report", "--medium", TYPO, "--data-dir", data_dir.path, env=env)
    assert (local.code, local.err) == (result.code, result.err)
    # --json stays English, the server's detail included.
    result = cli("report", "--medium", TYPO, "--json", "--server", server, env=env)
    assert result.code == 5
    assert ENGLISH in result.err


# Refusals readers and writers meet on the API (issue 12), each as (method, path, headers,
# body, status, its detail): their detail comes from the catalogue as well.
UNKNOWN_TOKEN = "rwc_" + "A" * 43


def _api_refusals(people: Any) -> list[tuple[str, str, dict[str, str], Any, int, Message]]:
    writer = {"Authorization": f"Bearer {people.writer}"}
    register = {"label": "export", "medium": "USB-1", "readers": ["raeder"], "reader_groups": []}
    return [
        ("GET", "/v1/whoami", {}, None, 401, N_("missing Authorization: Bearer token")),
        (
            "GET",
            "/v1/whoami",
            {"Authorization": "Basic x"},
            None,
            401,
            N_("the Authorization header must be 'Bearer <token>'"),
        ),
        (
            "GET",
            "/v1/whoami",
            {"Authorization": "Bearer nope"},
            None,
            401,
            N_("the bearer token is malformed"),
        ),
        (
            "GET",
            "/v1/whoami",
            {"Authorization": f"Bearer {UNKNOWN_TOKEN}"},
            None,
            401,
            N_("unknown bearer token"),
        ),
        # The evaluate path is answered ahead of FastAPI's router (http/release.py).
        (
            "POST",
            "/v1/containers/AAAAAAAAAAAAAAAAAAAAAA/evaluate",
            {"Authorization": f"Bearer {UNKNOWN_TOKEN}"},
            {"blinded_element": "A" * 43},
            401,
            N_("unknown bearer token"),
        ),
        (
            "POST",
            "/v1/containers",
            writer,
            register,
            400,
            N_("unknown reader principals: %(names)s", names="raeder"),
        ),
        ("GET", "/v1/no-such-route", writer, None, 404, N_("no such resource")),
        # Refused by the body guard, before any route.
        (
            "POST",
            "/v1/containers",
            {**writer, "Content-Type": "text/plain"},
            "x",
            415,
            N_("request body must be application/json"),
        ),
    ]


def test_reader_and_writer_refusals_follow_accept_language(
    server: str, people: Any, subtests: pytest.Subtests
) -> None:
    for method, path, headers, body, status, message in _api_refusals(people):
        with subtests.test(msg=str(message)):
            answers = {}
            for language in ("en", "ja"):
                kwargs: dict[str, Any] = {"json": body} if isinstance(body, dict) else {}
                if isinstance(body, str):
                    kwargs["data"] = body
                answers[language] = requests.request(
                    method,
                    server + path,
                    headers={**headers, "Accept-Language": language},
                    timeout=30,
                    **kwargs,
                )
            plain, japanese = answers["en"], answers["ja"]
            assert (plain.status_code, japanese.status_code) == (status, status)
            english = message.text("en")
            assert plain.json()["detail"] == english
            assert japanese.headers["content-language"] == "ja"
            # The catalogue's Japanese, and no English sentence left in it.
            assert japanese.json()["detail"] == message.text("ja")
            assert japanese.json()["detail"] != english
            assert {k: v for k, v in japanese.json().items() if k != "detail"} == {
                k: v for k, v in plain.json().items() if k != "detail"
            }


def test_unknown_reader_names_are_suggested_not_repeated_in_the_detail(
    server: str, people: Any
) -> None:
    """spec §problems: the nearest names are in `suggestions`; each client asks once."""
    body = {"label": "export", "medium": "USB-1", "readers": ["raeder"], "reader_groups": []}
    resp = requests.post(
        f"{server}/v1/containers",
        json=body,
        headers={"Authorization": f"Bearer {people.writer}", "Accept-Language": "ja"},
        timeout=30,
    )
    assert resp.status_code == 400
    doc = resp.json()
    assert doc["suggestions"][0] == "reader"
    assert doc["detail"] == translate(
        "ja", "unknown reader principals: %(names)s", {"names": "raeder"}
    )
    assert "reader" not in doc["detail"].replace("raeder", "")
