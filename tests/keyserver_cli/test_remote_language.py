"""Refusal details in the official's language over HTTP (issue 12, spec §problems).

``KEYSERVER_LANG=ja keyserver --server URL ...`` printed a Japanese lead sentence and then
the server's English ``detail``. The API now answers the detail in the language the client
asks for with ``Accept-Language`` (English without it, as before); the remote command asks
in its own language, except for ``--json``. Over a real socket (uvicorn on loopback).
"""

from __future__ import annotations

import re
from typing import Any

import requests

from keyserver.domain.i18n import translate
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
