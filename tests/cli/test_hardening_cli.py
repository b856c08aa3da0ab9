"""rwc hardening of issue 11: names escaped on terminals, every bad name listed before a
registration, no proxy for a loopback key server (a real server on loopback)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import requests

from pycontainer.cli.exits import ExitCode
from pycontainer.cli.main import run
from pycontainer.client.keyserver import KeyServerClient
from pycontainer.client.terminal_text import display_name
from tests.support.live import LiveServer
from tests.support.rwc_args import KDF


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("plain 尼崎市/名簿.csv", "plain 尼崎市/名簿.csv"),
        ("invoice\u202etxt.exe", "invoice\\u202etxt.exe"),
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("c1\x85", "c1\\x85"),
        ("line\u2028sep", "line\\u2028sep"),
        ("back\\slash", "back\\\\slash"),
        ("surrogate\udcff", "surrogate\\udcff"),
    ],
)
def test_names_are_escaped_for_terminals(name: str, shown: str) -> None:
    assert display_name(name) == shown


def _official_containers(server: LiveServer, label: str) -> list[Any]:
    found = server.official_get("/v1/containers", label=label)["containers"]
    assert isinstance(found, list)
    return [c for c in found if c.get("label") == label]


def test_seal_lists_every_bad_name_and_registers_nothing(server: Any, tmp_path: Path) -> None:
    src = tmp_path / "export"
    src.mkdir()
    for name in ("ok.csv", "CON", "a:b.csv", "space ", "x\u202ey"):
        (src / name).write_bytes(b"x")
    err = io.StringIO()
    label = "bad names 1"
    code = run(
        [
            "seal",
            str(src),
            "-o",
            str(tmp_path / "c.rwc"),
            "--label",
            label,
            "--reader",
            "clerk@city.example",
            "--no-medium",
            *KDF,
        ],
        env={
            "XDG_CONFIG_HOME": str(tmp_path / "home"),
            "RWC_TOKEN": server.tokens["writer"],
            "RWC_SERVER": server.url,
            "RWC_PASSWORD": "pw",
        },
        stdout=io.StringIO(),
        stderr=err,
    )
    assert code == ExitCode.ERROR  # InputError: the inputs, not the command line
    text = err.getvalue()
    assert "4 names cannot be stored" in text, text
    for shown in ("export/CON", "export/a:b.csv", "export/space ", "\\u202e"):
        assert shown in text, text
    assert "\u202e" not in text  # escaped, never sent raw to the terminal
    assert _official_containers(server, label) == []  # no phantom pending container
    assert sorted(x.name for x in tmp_path.iterdir()) == ["export"]


def test_no_proxy_for_a_loopback_server(
    server: Any, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would connect to its own loopback (and see a plain-http token): never used.
    proxy = f"http://127.0.0.1:{closed_port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with KeyServerClient(server.url, server.tokens["reader"], retries=0) as c:
        assert c.whoami().name == "clerk@city.example"
    # The environment still counts for other hosts (a city proxy): the session trusts it.
    assert requests.Session().trust_env
