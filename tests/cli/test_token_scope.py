"""Token scope: RWC_TOKEN goes only to a server the user named; a stored token only to its own.

A hostile container names a key server of its own: here a real HTTP server on loopback that
records every Authorization header it receives (a token harvester). The container itself is
real (sealed by the library against an in-process key server whose URL is the harvester's).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pycontainer.cli.exits import ExitCode
from pycontainer.cli.main import run
from pycontainer.client.tokens import TokenStore
from pycontainer.format.primitives import Argon2Params
from pycontainer.keyrelease import InProcessKeyServer
from pycontainer.writer import seal_paths

ENV_TOKEN = "rwc_" + "E" * 43  # the reader's RWC_TOKEN
STORED_TOKEN = "rwc_" + "S" * 43  # a token stored by `rwc login`
PASSWORD = "correct horse"
SEEN: list[tuple[str, str]] = []  # (path, Authorization header) as the harvester saw them


async def harvester(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Record the request and refuse it like a key server refusing an unknown token."""
    assert scope["type"] == "http"
    headers = dict(scope["headers"])
    SEEN.append((scope["path"], headers.get(b"authorization", b"").decode()))
    body = json.dumps(
        {"type": "urn:rwc:problem:unauthenticated", "title": "Unauthenticated", "status": 401}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/problem+json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def harvester_url(uvicorn_runner: Any) -> Iterator[str]:
    u = uvicorn_runner.start(harvester)
    yield f"http://127.0.0.1:{u.port}"
    uvicorn_runner.stop(u)


@pytest.fixture
def seen() -> list[tuple[str, str]]:
    SEEN.clear()
    return SEEN


def hostile_container(tmp_path: Path, url: str) -> Path:
    """A valid container whose slot names ``url`` as its key server."""
    src = tmp_path / "note.txt"
    src.write_text("nothing to see\n")
    ks = InProcessKeyServer(url)
    out = tmp_path / "hostile.rwc"
    seal_paths(
        [src],
        out,
        slot=ks.register(),
        key_server=ks,
        password=PASSWORD,
        argon2=Argon2Params(m=8192, t=1, p=1),
    )
    return out


def rwc(home: Path, *argv: str, **env: str) -> tuple[int, str, str]:
    e = {"XDG_CONFIG_HOME": str(home), "RWC_PASSWORD": PASSWORD, **env}
    raw, err = io.BytesIO(), io.StringIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)  # cat needs .buffer
    code = run(list(argv), env=e, stdout=out, stderr=err)
    out.flush()
    return code, raw.getvalue().decode(), err.getvalue()


@pytest.mark.parametrize(
    "command", [["ls"], ["verify"], ["cat", "note.txt"], ["open", "-C", "dest"]]
)
def test_env_token_never_goes_to_the_containers_server(
    tmp_path: Path, harvester_url: str, seen: list[tuple[str, str]], command: list[str]
) -> None:
    container = hostile_container(tmp_path, harvester_url + "/slot")
    argv = [
        command[0],
        str(container),
        *(a.replace("dest", str(tmp_path / "dest")) for a in command[1:]),
    ]
    code, out, err = rwc(tmp_path / "home", *argv, RWC_TOKEN=ENV_TOKEN)
    assert code == ExitCode.USAGE
    assert err.splitlines() == [
        "rwc: error: RWC_TOKEN is set but no key server was named",
        "rwc: hint: set RWC_SERVER (or --server) to the key server this token belongs to",
    ]
    assert out == ""
    assert seen == []  # nothing reached the container's server, least of all the token
    assert not (tmp_path / "dest").exists()


def test_env_token_refusal_in_json(
    tmp_path: Path, harvester_url: str, seen: list[tuple[str, str]]
) -> None:
    container = hostile_container(tmp_path, harvester_url)
    code, _, err = rwc(tmp_path / "home", "--json", "ls", str(container), RWC_TOKEN=ENV_TOKEN)
    assert code == ExitCode.USAGE
    error = json.loads(err)["error"]
    assert error["kind"] == "usage" and "RWC_SERVER" in error["hint"]
    assert seen == []


def test_stored_token_for_the_containers_server_is_used_not_env(
    tmp_path: Path, harvester_url: str, seen: list[tuple[str, str]]
) -> None:
    # The reader logged in to this URL, so it is one they chose: its own token goes there,
    # RWC_TOKEN (meant for some other server) does not.
    container = hostile_container(tmp_path, harvester_url + "/slot")
    home = tmp_path / "home"
    TokenStore(home / "rwc").put(harvester_url + "/slot", STORED_TOKEN)
    code, _, err = rwc(home, "ls", str(container), RWC_TOKEN=ENV_TOKEN)
    assert code == ExitCode.DENIED, err  # the harvester answered 401
    assert seen and all(auth == f"Bearer {STORED_TOKEN}" for _, auth in seen)
    assert ENV_TOKEN not in err


def test_named_server_gets_the_env_token(
    tmp_path: Path, harvester_url: str, seen: list[tuple[str, str]]
) -> None:
    container = hostile_container(tmp_path, "https://keys.city.example")
    code, _, _ = rwc(
        tmp_path / "home", "ls", str(container), "--server", harvester_url, RWC_TOKEN=ENV_TOKEN
    )
    assert code == ExitCode.DENIED
    assert [auth for _, auth in seen] == [f"Bearer {ENV_TOKEN}"]
    seen.clear()
    code, _, _ = rwc(
        tmp_path / "home", "ls", str(container), RWC_TOKEN=ENV_TOKEN, RWC_SERVER=harvester_url
    )
    assert code == ExitCode.DENIED
    assert [auth for _, auth in seen] == [f"Bearer {ENV_TOKEN}"]


def test_stored_token_goes_only_to_its_own_server(
    tmp_path: Path, harvester_url: str, seen: list[tuple[str, str]]
) -> None:
    # A token stored for the container's URL is not sent to the --server override: rwc cannot
    # know that the two names mean the same server.
    container = hostile_container(tmp_path, harvester_url + "/slot")
    home = tmp_path / "home"
    TokenStore(home / "rwc").put(harvester_url + "/slot", STORED_TOKEN)
    other = harvester_url + "/other"
    code, _, err = rwc(home, "ls", str(container), "--server", other)
    assert code == ExitCode.DENIED
    assert err.splitlines()[0] == f"rwc: error: no token for the key server {other}"
    assert f"rwc login {other}" in err
    assert seen == []
    # Stored for the override as well: then that one (and only that one) goes there.
    TokenStore(home / "rwc").put(other, ENV_TOKEN)
    code, _, _ = rwc(home, "ls", str(container), "--server", other)
    assert code == ExitCode.DENIED
    assert [(path.split("/v1/")[0], auth) for path, auth in seen] == [
        ("/other", f"Bearer {ENV_TOKEN}")
    ]
