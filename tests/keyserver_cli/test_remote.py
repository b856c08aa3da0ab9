"""``keyserver`` in remote mode (``--server URL``, KEYSERVER_TOKEN), in-process.

The server is real (``running_server``: uvicorn on a loopback ephemeral port) over the
same SQLite data directory, so the local and remote modes can be compared on one database.
"""

from __future__ import annotations

import http.server
import json
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest

from keyserver.testing import running_server
from tests.support.servers import StubHTTPServer, closed_port, serving


def _as(h: ModuleType, token: str, **extra: str) -> dict[str, str]:
    return cast(dict[str, str], h.clean_env(KEYSERVER_TOKEN=token, **extra))


def test_admin_over_http(cli: Any, h: ModuleType, data_dir: Any, server: str) -> None:
    env = _as(h, data_dir.admin_token)
    result = cli(
        "principal", "add", "clerk", "--role", "reader", "--group", "b", "--server", server, env=env
    )
    assert result.code == 0, result
    token = h.TOKEN_RE.findall(result.out)[0]
    who = cli("whoami", "--json", "--server", server, env=_as(h, token)).json()
    assert who == {"name": "clerk", "roles": ["reader"], "organisation": None, "groups": ["b"]}

    listed = cli("principal", "list", "--json", "--server", server, env=env).json()
    assert {p["name"] for p in listed} == {"admin", "clerk"}
    issued = cli(
        "token",
        "create",
        "clerk",
        "--expires-at",
        "2099-01-01T00:00:00Z",
        "--json",
        "--server",
        server,
        env=env,
    ).json()
    assert issued["expires_at"].startswith("2099-01-01T00:00:00")
    tokens = cli("token", "list", "--json", "--server", server, env=env).json()
    assert issued["token_id"] in {t["token_id"] for t in tokens}
    revoked = cli("token", "revoke", issued["token_id"], "--server", server, env=env)
    assert revoked.code == 0
    denied = cli("whoami", "--server", server, env=_as(h, issued["token"]))
    assert denied.code == 4
    assert "(unauthenticated)" in denied.err
    assert "keyserver: hint: KEYSERVER_TOKEN is missing, wrong, expired or revoked" in denied.err

    # Remote actions are audited under the token's principal, local ones under the operator.
    cli("principal", "add", "local-one", "--role", "reader", "--data-dir", data_dir.path)
    adds = [e for e in h.audit_entries(data_dir.path) if e["action"] == "principal.add"]
    assert adds[-2]["actor"] == "admin" and adds[-2]["remote"] == "127.0.0.1"
    assert adds[-1]["actor"].startswith("operator@") and adds[-1]["remote"] == "local"


def test_official_over_http(
    cli: Any, h: ModuleType, data_dir: Any, people: Any, server: str, tmp_path: Path
) -> None:
    settings = data_dir.settings()
    cid = h.make_container(settings, people.writer, medium="R-1")
    h.reader_evaluates(settings, people.reader, cid)
    off = _as(h, people.official)

    status = cli("status", cid, "--json", "--server", server, env=off)
    assert status.code == 0 and status.json()["state"] == "active"
    local = cli("status", cid, "--json", "--data-dir", data_dir.path)
    assert local.json() == status.json()  # same document in both modes

    result = cli("suspend", cid, "--reason", "check", "--server", server, env=off)
    assert result.code == 0 and "1 container changed" in result.out
    # spec §lifecycle: a bulk restore lifts loss reports unless it names another cause.
    result = cli(
        "restore", "--medium", "r-1", "--reason", "ok", "--json", "--server", server, env=off
    )
    assert result.json() == {
        "affected": 0,
        "container_ids": [],
        "left_suspended": {"official": 1},
    }
    result = cli(
        "restore",
        "--medium",
        "r-1",
        "--cause",
        "official",
        "--reason",
        "ok",
        "--json",
        "--server",
        server,
        env=off,
    )
    assert result.json() == {"affected": 1, "container_ids": [cid], "left_suspended": {}}
    result = cli(
        "suspend", "--issuer", "writer", "--reason", "x", "--json", "--server", server, env=off
    )
    assert result.json()["affected"] == 1

    result = cli(
        "report-loss",
        "--medium",
        "R-1",
        "--reason",
        "lost",
        "--waiting-period",
        "1h",
        "--json",
        "--yes",
        "--server",
        server,
        env=off,
    )
    assert result.code == 0, result
    # spec §approvals: a waiting period under 24 h is an early destroy: the loss is reported
    # at once (default waiting period) and the early destroy awaits a second official.
    assert result.json()["approval_required"] is True
    assert result.json()["loss_report"]["destroy_after"] is not None
    found = cli("search", "--medium", "R-1", "--json", "--server", server, env=off).json()
    assert [c["state"] for c in found["containers"]] == ["suspended"]
    report = cli("report", "--medium", "R-1", "--json", "--server", server, env=off).json()
    assert report["medium"] == "R-1"
    # The time told goes with the report over HTTP as locally (spec §loss told_at).
    h.make_container(settings, people.writer, medium="R-2")
    times = ("--lost-at", "2020-01-01T09:00:00+09:00", "--told-at", "2020-01-01T09:01:00+09:00")
    told = cli(
        "report-loss", "--medium", "R-2", *times, "--reason", "lost", "--json",
        "--server", server, env=off,
    )  # fmt: skip
    assert told.code == 0 and told.json()["told_at"] == "2020-01-01T00:01:00.000000Z", told
    assert report["containers"][0]["container_id"] == cid

    result = cli("destroy", cid, "--reason", "gone", "--server", server, env=off)
    assert result.code == 2  # no TTY, no --yes: refused before any request
    result = cli(
        "report-loss",
        "--medium",
        "R-1",
        "--now",
        "--reason",
        "stolen",
        "--yes",
        "--json",
        "--server",
        server,
        env=off,
    )
    assert result.code == 0
    # A second official approves the early destroy (spec §approvals).
    number = str(result.json()["approval"]["id"])
    second = _as(h, h.add_principal(cli, data_dir, "suzuki", "official"))
    approved = cli("approvals", "approve", number, "--yes", "--server", server, env=second)
    assert approved.code == 0, approved
    result = cli("restore", cid, "--reason", "oops", "--server", server, env=off)
    assert result.code == 6
    assert "(destroyed)" in result.err and "keyserver: hint: contact:" in result.err

    aud = _as(h, people.auditor)
    entries = cli("audit", "list", "--container", cid, "--json", "--server", server, env=aud)
    actions = [e["action"] for e in entries.json()["entries"]]
    # Bulk operations (medium, issuer) are one entry listing the ids, not per container.
    assert actions == ["register", "evaluate", "commit", "evaluate", "suspend"]
    by_actor = cli("audit", "list", "--actor", "official", "--json", "--server", server, env=aud)
    assert {e["actor"] for e in by_actor.json()["entries"]} == {"official"}
    out = tmp_path / "export.jsonl"
    assert cli("audit", "export", "-o", out, "--server", server, env=aud).code == 0
    remote_lines = out.read_text()
    local_lines = cli("audit", "export", "--data-dir", data_dir.path).out
    # The local export was taken later: the remote one is a prefix of it.
    assert remote_lines and local_lines.startswith(remote_lines)
    verify = cli("audit", "verify", "--json", "--server", server, env=aud)
    assert verify.code == 0 and verify.json()["ok"] is True
    head = f"{verify.json()['head_seq']}:{verify.json()['head_hash']}"
    again = cli("audit", "verify", "--expect-head", head, "--server", server, env=aud)
    assert again.code == 0, again
    wrong = head[:-1] + ("0" if head[-1] != "0" else "1")
    again = cli("audit", "verify", "--expect-head", wrong, "--server", server, env=aud)
    assert again.code == 1 and "recorded head is not in the chain" in again.err


def test_refusals_map_to_exit_codes(
    cli: Any, h: ModuleType, data_dir: Any, people: Any, server: str
) -> None:
    cid = h.make_container(data_dir.settings(), people.writer)
    reader = _as(h, people.reader)
    result = cli("destroy", cid, "--reason", "x", "--yes", "--server", server, env=reader)
    assert result.code == 4
    assert "(forbidden)" in result.err
    assert "keyserver: hint: this principal lacks the role" in result.err
    result = cli("principal", "list", "--server", server, env=_as(h, people.official))
    assert result.code == 4
    result = cli("status", "A" * 22, "--server", server, env=_as(h, people.official))
    assert result.code == 5 and "(not-found)" in result.err
    result = cli("status", cid, "--server", server, env=_as(h, "rwc_" + "A" * 43))
    assert result.code == 4
    result = cli(
        "search",
        "--state",
        "active",
        "--limit",
        "1000",
        "--server",
        server,
        env=_as(h, people.official),
    )
    assert result.code == 0
    assert "Traceback" not in result.err


def test_remote_configuration_errors(cli: Any, h: ModuleType, server: str) -> None:
    result = cli("whoami", "--server", server, env=h.clean_env())
    assert result.code == 3
    assert "no token for remote mode" in result.err
    assert "export KEYSERVER_TOKEN" in result.err

    env = _as(h, "rwc_" + "A" * 43)
    result = cli("whoami", "--server", "http://keys.city.example", env=env)
    assert result.code == 3 and "refusing plain http:// to 'http://keys.city.example'" in result.err
    result = cli("whoami", "--server", "ftp://127.0.0.1", env=env)
    assert result.code == 3 and "--server: " in result.err and "ftp://127.0.0.1" in result.err

    result = cli("sweep", "--server", server, env=env)
    assert result.code == 2 and "works only on a data directory" in result.err
    result = cli("init", env=h.clean_env(KEYSERVER_SERVER=server))
    assert result.code == 3 and "no data directory" in result.err


@pytest.mark.parametrize(
    ("url", "message"),
    [
        # A host NAME that starts with "127." is not a loopback address: plain http to it
        # would hand the admin's token to whoever runs that name.
        ("http://127.attacker.example", "refusing plain http:// to 'http://127.attacker.example'"),
        ("http://127.0.0.1.nip.example:8443", "refusing plain http://"),
        ("https://admin:pw@keys.city.example", "--server: the key-server URL is refused"),
        ("https://keys.city.example/?x=1", "--server: the key-server URL is refused"),
    ],
)
def test_server_url_policy_is_rwcs(cli: Any, h: ModuleType, url: str, message: str) -> None:
    """keyserver --server follows the same URL policy as rwc (pycontainer.client.server_url)."""
    result = cli("whoami", "--server", url, env=_as(h, "rwc_" + "A" * 43))
    assert result.code == 3, result
    assert message in result.err and "Traceback" not in result.err


def test_server_unreachable(cli: Any, h: ModuleType) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = cli("status", "A" * 22, "--server", url, env=_as(h, "rwc_" + "A" * 43))
    assert result.code == 7
    assert f"cannot reach the key server at {url}" in result.err
    assert "Traceback" not in result.err


def test_server_from_environment_and_toml(
    cli: Any, h: ModuleType, data_dir: Any, server: str, tmp_path: Path
) -> None:
    toml = tmp_path / "c.toml"
    dead = f"http://127.0.0.1:{closed_port()}"
    toml.write_text(f'server = "{dead}"\n')
    admin = data_dir.admin_token
    # TOML alone: the dead server.
    result = cli("whoami", env=_as(h, admin, KEYSERVER_CONFIG=str(toml)))
    assert result.code == 7
    # The environment beats the TOML file.
    result = cli("whoami", env=_as(h, admin, KEYSERVER_CONFIG=str(toml), KEYSERVER_SERVER=server))
    assert result.code == 0, result
    # The flag beats the environment.
    result = cli("whoami", "--server", dead, env=_as(h, admin, KEYSERVER_SERVER=server))
    assert result.code == 7


@pytest.mark.parametrize(
    ("argv", "status", "body", "code", "message"),
    [
        (["whoami"], 500, b"<html>oops</html>", 7, "HTTP 500 without a problem document"),
        (["whoami"], 200, b"not json", 7, "not JSON"),
        (["principal", "list"], 200, b"{}", 7, "unexpected response (/v1/principals)"),
        (["audit", "export"], 200, b"{}\nnope\n", 7, "audit export line that is not JSON"),
        (
            ["whoami"],
            423,
            json.dumps(
                {
                    "type": "urn:rwc:problem:suspended",
                    "status": 423,
                    "detail": "held",
                    "contact": "desk",
                }
            ).encode(),
            6,
            "held (suspended)",
        ),
        # Server text reaches the terminal only sanitised (no escape sequences).
        (
            ["whoami"],
            403,
            json.dumps(
                {"type": "urn:rwc:problem:forbidden", "status": 403, "detail": "no\x1b[2J way"}
            ).encode(),
            4,
            "no [2J way (forbidden)",
        ),
        (["whoami"], 200, json.dumps({"name": "evil\x1b]0;pwned\x07"}).encode(), 0, ""),
        # An answer over the size limit is refused, not read into memory.
        (["whoami"], 200, b'{"name": "' + b"x" * (2 << 20) + b'"}', 7, "too large"),
    ],
)
def test_odd_server_answers(
    cli: Any, h: ModuleType, argv: list[str], status: int, body: bytes, code: int, message: str
) -> None:
    """A server (or proxy) that answers strangely gives a message, never a traceback."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    httpd = StubHTTPServer(("127.0.0.1", 0), Handler)
    with serving(httpd):
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        result = cli(*argv, "--server", url, env=_as(h, "rwc_" + "A" * 43))
    assert result.code == code, result
    assert message in result.err
    assert "Traceback" not in result.err
    assert "\x1b" not in result.out + result.err and "\x07" not in result.out + result.err


def test_times_shown_in_the_servers_display_zone(cli: Any, h: ModuleType, data_dir: Any) -> None:
    """Remote mode shows times in the zone the city configured on the server (spec §cli).

    Before, `keyserver --server` showed them in the zone of the machine it ran on.
    """
    # -03:00 all year, and not this machine's zone (the test run's is UTC).
    settings = data_dir.settings(display_timezone="America/Sao_Paulo")
    with running_server(settings) as url:
        env = _as(h, data_dir.admin_token)
        shown = cli("token", "list", "--server", url, env=env)
        assert shown.code == 0, shown
        assert "-03:00" in shown.out and "+00:00" not in shown.out
        # A zone configured for the command itself wins.
        mine = cli(
            "token", "list", "--server", url,
            env=_as(h, data_dir.admin_token, KEYSERVER_DISPLAY_TIMEZONE="Asia/Tokyo"),
        )  # fmt: skip
        assert mine.code == 0, mine
        assert "+09:00" in mine.out and "-03:00" not in mine.out
        # --json keeps the protocol's UTC.
        listed = cli("token", "list", "--json", "--server", url, env=env).json()
        assert all(t["created_at"].endswith(("Z", "+00:00")) for t in listed)
