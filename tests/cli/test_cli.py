"""`rwc` through main(argv) in process, against a live key server on loopback.

Length: the cases of every `rwc` subcommand against the live key server fixture, grouped by
subcommand and sharing the rwc() helper at the top (tests/support/rwc_run.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import stat
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from pycontainer._engine import staging
from pycontainer.cli.exits import EXIT_CODE_TABLE, ExitCode
from pycontainer.client.keyserver import KeyServerClient, b64url_decode, b64url_encode
from tests.support.rwc_args import KDF, seal_args
from tests.support.rwc_run import Result, run_rwc


def rwc(
    server: Any,
    home: Path,
    *argv: str,
    who: str | None = "writer",
    password: str | None = "correct horse",
    env: dict[str, str] | None = None,
) -> Result:
    e: dict[str, str] = {}
    if who is not None:
        # RWC_TOKEN goes only to a server the user named (pycontainer.client.tokens, "Token scope").
        e["RWC_TOKEN"] = server.tokens[who]
        e["RWC_SERVER"] = server.url
    if password is not None:
        e["RWC_PASSWORD"] = password
    e.update(env or {})
    return run_rwc(home, *argv, env=e)


def make_tree(root: Path) -> list[Path]:
    (root / "notes").mkdir(parents=True, exist_ok=True)
    (root / "register.csv").write_text("id,name\n1,Tanaka\n2,Suzuki\n")
    (root / "notes" / "a.txt").write_text("alpha\n")
    (root / "notes" / "b.bin").write_bytes(bytes(range(256)) * 100)
    return [root / "register.csv", root / "notes"]


def seal(server: Any, home: Path, tmp_path: Path, *extra: str, **kw: Any) -> tuple[Result, Path]:
    inputs = make_tree(tmp_path / "in")
    out = tmp_path / "export.rwc"
    r = rwc(
        server,
        home,
        "seal",
        *map(str, inputs),
        "-o",
        str(out),
        "--server",
        server.url,
        "--label",
        "2022 benefits export",
        "--medium",
        "USB-TEST",
        "--reader",
        "clerk@city.example",
        *KDF,
        *extra,
        **kw,
    )
    return r, out


def cid_of(server: Any, home: Path, container: Path) -> bytes:
    info = rwc(server, home, "--json", "info", str(container), who=None, password=None).json()
    return b64url_decode(info["slots"][0]["container_id"], 16, "id")


def test_round_trip(server: Any, home: Path, tmp_path: Path) -> None:
    r, out = seal(server, home, tmp_path, "--json", "--expires", "30d")
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["ok"] is True and doc["command"] == "seal" and doc["entries"] == 4
    assert out.is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp left

    info = rwc(server, home, "info", str(out), who=None, password=None)  # offline, no token
    assert info.code == 0
    assert server.url in info.text and doc["container_id"] in info.text

    ls = rwc(server, home, "ls", str(out), who="reader")
    assert ls.code == 0, ls.err
    assert sorted(ls.text.split()) == ["notes/", "notes/a.txt", "notes/b.bin", "register.csv"]
    long = rwc(server, home, "ls", "--long", str(out), who="reader")
    assert "-rw" in long.text and "25600" in long.text

    cat = rwc(server, home, "cat", str(out), "notes/b.bin", who="reader")
    assert cat.code == 0 and cat.out == bytes(range(256)) * 100

    v = rwc(server, home, "--json", "verify", str(out), who="reader")
    assert v.code == 0 and v.json()["valid"] is True and v.json()["receipt"] == "sent"

    dest = tmp_path / "out"
    o = rwc(server, home, "open", str(out), "-C", str(dest), "--json", who="reader")
    assert o.code == 0, o.err
    assert o.json()["entries"] == 4 and o.json()["receipt"] == "sent"
    assert (dest / "register.csv").read_text() == "id,name\n1,Tanaka\n2,Suzuki\n"
    assert (dest / "notes" / "b.bin").read_bytes() == bytes(range(256)) * 100


def test_open_some_paths_and_default_directory(
    server: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = seal(server, home, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    r = rwc(server, home, "open", str(out), "notes/a.txt", who="reader")
    assert r.code == 0, r.err
    assert sorted(p.name for p in (work / "export").rglob("*")) == ["a.txt", "notes"]
    # PATHs may also follow the options.
    r = rwc(server, home, "open", str(out), "-C", "two", "register.csv", "notes", who="reader")
    assert r.code == 0, r.err
    assert sorted(p.name for p in (work / "two").iterdir()) == ["notes", "register.csv"]
    bad = rwc(server, home, "open", str(out), "-C", "three", "x", "--bogus", who="reader")
    assert bad.code == ExitCode.USAGE and "--bogus" in bad.err


def test_no_password_container(server: Any, home: Path, tmp_path: Path) -> None:
    r, out = seal(server, home, tmp_path, "--no-password", password=None)
    assert r.code == 0, r.err
    ok = rwc(server, home, "ls", "--no-password", str(out), who="reader", password=None)
    assert ok.code == 0, ok.err
    # Without --no-password the reader's password is used, which is wrong here.
    bad = rwc(server, home, "ls", str(out), who="reader", password="guess")
    assert bad.code == ExitCode.WRONG_PASSWORD
    assert "--no-password" in bad.err


def test_wrong_password_exit_6_and_nothing_written(server: Any, home: Path, tmp_path: Path) -> None:
    _, out = seal(server, home, tmp_path)
    dest = tmp_path / "dest"
    r = rwc(server, home, "open", str(out), "-C", str(dest), who="reader", password="wrong")
    assert r.code == ExitCode.WRONG_PASSWORD
    assert r.err.startswith("rwc: error: ")
    assert "rwc: hint: " in r.err
    assert "Traceback" not in r.err
    assert not dest.exists()


def test_revoked_exit_3_says_when_why_whom(server: Any, home: Path, tmp_path: Path) -> None:
    _, out = seal(server, home, tmp_path)
    cid = b64url_encode(cid_of(server, home, out))
    server.official(
        f"/v1/containers/{cid}/destroy",
        {"reason": "courier lost the bag (internal)", "public_reason": "USB stick lost"},
    )
    dest = tmp_path / "dest"
    r = rwc(server, home, "open", str(out), "-C", str(dest), who="reader")
    assert r.code == ExitCode.REVOKED
    assert "USB stick lost" in r.err and server.contact in r.err
    assert "revoked" in r.err and " on 20" in r.err  # the date
    assert "internal" not in r.err
    assert not dest.exists()
    j = rwc(server, home, "--json", "ls", str(out), who="reader")
    assert j.code == 3 and j.out == b""
    err = j.err_json()
    assert err["ok"] is False
    assert err["error"]["kind"] == "revoked" and err["error"]["exit_code"] == 3
    assert err["error"]["reason"] == "USB stick lost"
    assert err["error"]["contact"] == server.contact
    assert err["error"]["revoked_at"]


def test_suspended_exit_4(server: Any, home: Path, tmp_path: Path) -> None:
    _, out = seal(server, home, tmp_path)
    cid = b64url_encode(cid_of(server, home, out))
    server.official(f"/v1/containers/{cid}/suspend", {"reason": "check", "public_reason": None})
    r = rwc(server, home, "cat", str(out), "register.csv", who="reader")
    assert r.code == ExitCode.SUSPENDED and r.out == b""
    assert "suspended" in r.err


def test_not_allowed_exit_5(server: Any, home: Path, tmp_path: Path) -> None:
    _, out = seal(server, home, tmp_path)
    r = rwc(server, home, "ls", str(out), who="outsider")
    assert r.code == ExitCode.DENIED
    nobody = rwc(server, home, "ls", str(out), who=None)  # no token anywhere
    assert nobody.code == ExitCode.DENIED
    assert "rwc login" in nobody.err


def test_unreachable_exit_7(
    server: Any, home: Path, tmp_path: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = seal(server, home, tmp_path)
    # rwc's pauses between its attempts are recorded, not slept (3 s of this test's wall):
    # time is moved, not waited for. The client's own `sleep=` hook; the retry policy
    # itself: tests/cli/test_client_transport.py.
    pauses: list[float] = []
    made = KeyServerClient.__init__

    def recording(self: KeyServerClient, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **{**kwargs, "sleep": pauses.append})

    monkeypatch.setattr(KeyServerClient, "__init__", recording)
    r = rwc(
        server, home, "ls", str(out), "--server", f"http://127.0.0.1:{closed_port}", who="reader"
    )
    assert r.code == ExitCode.UNREACHABLE
    assert "cannot reach" in r.err
    assert pauses == [0.5, 1.0]  # the default limits: two retries, the pause doubling
    # Sealing against an unreachable server leaves nothing behind.
    out2 = tmp_path / "second.rwc"
    s = rwc(
        server,
        home,
        *seal_args(tmp_path / "in" / "register.csv", out2, f"http://127.0.0.1:{closed_port}"),
    )
    assert s.code == ExitCode.UNREACHABLE
    assert not out2.exists()
    assert pauses == [0.5, 1.0] * 2


def test_server_override_reaches_same_server_under_another_name(
    server: Any, home: Path, tmp_path: Path
) -> None:
    _, out = seal(server, home, tmp_path)
    other_name = server.url.replace("127.0.0.1", "localhost")
    r = rwc(server, home, "ls", str(out), "--server", other_name, who="reader")
    assert r.code == 0, r.err
    e = rwc(server, home, "ls", str(out), who="reader", env={"RWC_SERVER": other_name})
    assert e.code == 0, e.err


def test_corrupt_exit_8(server: Any, home: Path, tmp_path: Path) -> None:
    _, out = seal(server, home, tmp_path)
    data = bytearray(out.read_bytes())
    data[-40] ^= 1  # inside the last payload chunk
    bad = tmp_path / "bad.rwc"
    bad.write_bytes(bytes(data))
    dest = tmp_path / "dest"
    r = rwc(server, home, "open", str(bad), "-C", str(dest), who="reader")
    assert r.code == ExitCode.CORRUPT
    assert not dest.exists()
    junk = tmp_path / "junk.rwc"
    junk.write_bytes(b"\x89RWC\r\n\x1a\n" + b"\x00" * 10)
    assert rwc(server, home, "info", str(junk), who=None).code == ExitCode.CORRUPT
    assert rwc(server, home, "ls", str(junk), who="reader").code == ExitCode.CORRUPT


def test_expired_exit_9(server: Any, home: Path, tmp_path: Path) -> None:
    import datetime as dt  # noqa: PLC0415

    _, out = seal(server, home, tmp_path, "--expires", "1h")
    assert rwc(server, home, "ls", str(out), who="reader").code == 0
    server.clock.offset = dt.timedelta(hours=2)
    r = rwc(server, home, "ls", str(out), who="reader")
    assert r.code == ExitCode.EXPIRED
    assert "expired" in r.err


def test_exists_exit_10_without_force(server: Any, home: Path, tmp_path: Path) -> None:
    _, out = seal(server, home, tmp_path)
    before = out.read_bytes()
    r, _ = seal(server, home, tmp_path)
    assert r.code == ExitCode.EXISTS
    assert out.read_bytes() == before
    forced, _ = seal(server, home, tmp_path, "--force")
    assert forced.code == 0 and out.read_bytes() != before
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "register.csv").write_text("mine")
    o = rwc(server, home, "open", str(out), "-C", str(dest), who="reader")
    assert o.code == ExitCode.EXISTS
    assert (dest / "register.csv").read_text() == "mine"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["seal", "x", "-o", "y.rwc", "--server", "https://k.example", "--bogus"],
        ["ls"],
        ["--json", "ls"],
    ],
)
def test_usage_exit_2(server: Any, home: Path, argv: list[str]) -> None:
    r = rwc(server, home, *argv)
    assert r.code == ExitCode.USAGE
    assert "Traceback" not in r.err
    if "--json" in argv:
        assert r.err_json()["error"]["kind"] == "usage"
    else:
        assert r.err.startswith("rwc: error: ")


# Each refused seal: the arguments after `seal SRC -o OUT` ({URL}: the test server's URL).
_TO = ("--server", "{URL}", "--medium", "M")
_FOR = (*_TO, "--reader", "r")
SEAL_REFUSALS = {
    "no-reader": [*_TO, *KDF],
    "label-too-long": [*_FOR, "--label", "x" * 201, *KDF],
    "empty-medium": ["--server", "{URL}", "--medium", "", "--reader", "r", *KDF],
    "kdf-memory-below-spec": [*_FOR, "--kdf-memory", "1024"],
    "kdf-time-too-high": [*_FOR, "--kdf-time", "11", *KDF[:2]],
    "expires-word": [*_FOR, "--expires", "yesterday", *KDF],
    "expires-past": [*_FOR, "--expires", "2001-01-01", *KDF],
    "plain-http-remote": ["--server", "http://keys.city.example", "--medium", "M", "--reader", "r"],
}


def test_seal_publishes_its_container_once(
    server: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One publish (link or rename, fsync of the directory) per seal: `rwc seal` published
    a second time over the writer's (issue 9), two cycles on a slow USB stick. The real
    publish runs; the test only counts it."""
    published: list[Path] = []
    publish = staging.StagedFile.publish

    def counted(self: staging.StagedFile, *, force: bool) -> None:
        published.append(self._dest)
        publish(self, force=force)

    monkeypatch.setattr(staging.StagedFile, "publish", counted)
    result, out = seal(server, home, tmp_path)
    assert result.code == 0, result.err
    assert published == [out]


@pytest.mark.parametrize("case", sorted(SEAL_REFUSALS))
def test_seal_refusal_is_a_usage_error_and_writes_nothing(
    server: Any, home: Path, tmp_path: Path, case: str
) -> None:
    make_tree(tmp_path / "in")
    out = tmp_path / "x.rwc"
    args = [server.url if a == "{URL}" else a for a in SEAL_REFUSALS[case]]
    r = rwc(server, home, "seal", str(tmp_path / "in" / "register.csv"), "-o", str(out), *args)
    assert r.code == ExitCode.USAGE, r.err
    assert "Traceback" not in r.err
    assert not out.exists()


def test_seal_refusals_are_usage_errors_and_write_nothing(
    server: Any, home: Path, tmp_path: Path
) -> None:
    make_tree(tmp_path / "in")
    src = str(tmp_path / "in" / "register.csv")
    out = tmp_path / "x.rwc"
    base = ["seal", src, "-o", str(out), "--server", server.url, "--medium", "M"]
    empty = rwc(server, home, *base, "--reader", "r", *KDF, password="")
    assert empty.code == ExitCode.USAGE and "--no-password" in empty.err
    # The container may not be written into a directory being sealed (it would seal itself).
    inside = tmp_path / "in" / "x.rwc"
    r = rwc(
        server,
        home,
        "seal",
        str(tmp_path / "in"),
        "-o",
        str(inside),
        *base[4:],
        "--reader",
        "r",
        *KDF,
    )
    assert r.code == ExitCode.USAGE and "inside" in r.err, r.err
    assert sorted(p.name for p in inside.parent.iterdir()) == ["notes", "register.csv"]


def test_seal_with_unknown_reader_leaves_nothing(server: Any, home: Path, tmp_path: Path) -> None:
    make_tree(tmp_path / "in")
    out = tmp_path / "x.rwc"
    r = rwc(
        server,
        home,
        *seal_args(
            tmp_path / "in" / "register.csv", out, server.url, reader="nobody@nowhere.example"
        ),
    )
    # A typo on the command line, not a version mismatch (issue 15's note): exit 2, and the
    # hint names the options to check instead of "compatible versions".
    assert r.code == ExitCode.USAGE, r.err
    assert "unknown reader principals: nobody@nowhere.example" in r.err
    assert "compatible versions" not in r.err and "--reader" in r.err
    assert "Traceback" not in r.err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_seal_refuses_symlink_input_and_cleans_up(server: Any, home: Path, tmp_path: Path) -> None:
    make_tree(tmp_path / "in")
    link = tmp_path / "in" / "link"
    link.symlink_to(tmp_path / "in" / "register.csv")
    out = tmp_path / "x.rwc"
    r = rwc(
        server,
        home,
        *seal_args(link, out, server.url),
    )
    assert r.code == ExitCode.ERROR and "symbolic link" in r.err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _evaluations(server: Any) -> int:
    import sqlite3  # noqa: PLC0415

    path = server.settings.database_url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as db:
        row = db.execute("SELECT count(*) FROM audit_log WHERE action = 'evaluate'").fetchone()
    return int(row[0])


def test_commit_failure_removes_output(server: Any, home: Path, tmp_path: Path) -> None:
    """The registration lapses mid-seal (server clock moves past pending_expires_at).

    The seal reads stdin, so the test holds it open until the library has evaluated, then
    moves the server's clock 25 h on: commit answers `expired` and no file may remain.
    """
    import datetime as dt  # noqa: PLC0415
    import os  # noqa: PLC0415
    import time  # noqa: PLC0415

    rfd, wfd = os.pipe()
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    out = out_dir / "piped.rwc"
    result: list[Result] = []
    real_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(os.fdopen(rfd, "rb"))
    try:
        t = threading.Thread(
            target=lambda: result.append(
                rwc(
                    server,
                    home,
                    *seal_args("-", out, server.url),
                )
            )
        )
        before = _evaluations(server)
        t.start()
        os.write(wfd, b"some data\n")
        # The container file is nameless while it is written (O_TMPFILE), so the sign that
        # the seal is past its evaluation is the server's audit log.
        deadline = time.monotonic() + 30
        while _evaluations(server) == before:
            assert time.monotonic() < deadline, "seal never evaluated"
            time.sleep(0.02)
        server.clock.offset = dt.timedelta(hours=25)
        os.close(wfd)
        t.join(30)
    finally:
        sys.stdin = real_stdin
    assert result, "seal did not finish"
    assert result[0].code == ExitCode.EXPIRED, result[0].err
    assert list(out_dir.iterdir()) == []


def test_login_logout_token_file_0600(
    server: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(server.tokens["reader"] + "\n"))
    r = rwc(server, home, "login", server.url + "/", "--token-stdin", who=None)
    assert r.code == 0, r.err
    assert "clerk@city.example" in r.text
    store = home / "rwc" / "tokens.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    assert server.tokens["reader"] not in r.text + r.err  # never echoed

    _, out = seal(server, home, tmp_path)
    ls = rwc(server, home, "ls", str(out), who=None)  # token from the store
    assert ls.code == 0, ls.err

    lo = rwc(server, home, "--json", "logout", server.url, who=None)
    assert lo.code == 0 and lo.json()["removed"] is True
    assert rwc(server, home, "ls", str(out), who=None).code == ExitCode.DENIED

    monkeypatch.setattr(sys, "stdin", io.StringIO("rwc_" + "Z" * 43 + "\n"))
    bad = rwc(server, home, "login", server.url, "--token-stdin", who=None)
    assert bad.code == ExitCode.DENIED
    assert json.loads(store.read_text())["tokens"] == {}


def test_json_results_parse(server: Any, home: Path, tmp_path: Path) -> None:
    r, out = seal(server, home, tmp_path, "--json")
    assert r.json()["container_id"]
    ls = rwc(server, home, "--json", "ls", str(out), who="reader")
    entries = ls.json()["entries"]
    assert {e["path"] for e in entries} == {"notes", "notes/a.txt", "notes/b.bin", "register.csv"}
    assert all(set(e) == {"path", "kind", "mode", "size", "mtime"} for e in entries)
    cat = rwc(server, home, "cat", str(out), "register.csv", "--json", who="reader")
    assert cat.out.startswith(b"id,name")
    assert cat.err_json()["ok"] is True
    info = rwc(server, home, "info", "--json", str(out), who=None).json()
    assert info["version"] == 1 and info["slots"][0]["argon2"] == {"m": 8192, "t": 1, "p": 1}


def test_quiet_prints_nothing_on_success(server: Any, home: Path, tmp_path: Path) -> None:
    r, _ = seal(server, home, tmp_path, "--quiet")
    assert r.code == 0 and r.out == b"" and r.err == ""


@pytest.mark.parametrize(
    ("code", "meaning"), [(code, meaning) for code, _, meaning in EXIT_CODE_TABLE]
)
def test_help_lists_exit_codes(server: Any, home: Path, code: int, meaning: str) -> None:
    r = rwc(server, home, "--help")
    assert r.code == 0
    assert f"{int(code):>2}  {meaning}" in r.text


def test_tls_with_ca_bundle_option_and_env(
    server: Any, home: Path, tmp_path: Path, tls_files: Any, tls_port: int
) -> None:
    _, out = seal(server, home, tmp_path)
    https = f"https://localhost:{tls_port}"
    no_ca = rwc(server, home, "ls", str(out), "--server", https, who="reader")
    assert no_ca.code == ExitCode.UNREACHABLE
    assert "not trusted" in no_ca.err and "--ca-bundle" in no_ca.err
    opt = rwc(
        server,
        home,
        "ls",
        str(out),
        "--server",
        https,
        "--ca-bundle",
        str(tls_files.ca_cert),
        who="reader",
    )
    assert opt.code == 0, opt.err
    env = rwc(
        server,
        home,
        "ls",
        str(out),
        who="reader",
        env={"RWC_SERVER": https, "RWC_CA_BUNDLE": str(tls_files.ca_cert)},
    )
    assert env.code == 0, env.err


def test_tls_trust_ignores_requests_ca_bundle(
    server: Any,
    home: Path,
    tmp_path: Path,
    tls_files: Any,
    tls_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE (set machine-wide here) never decide whom rwc trusts."""
    _, out = seal(server, home, tmp_path)
    https = f"https://localhost:{tls_port}"
    # The environment trusts the test CA; rwc's default store (certifi) does not.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.ca_cert))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tls_files.ca_cert))
    default = rwc(server, home, "ls", str(out), "--server", https, who="reader")
    assert default.code == ExitCode.UNREACHABLE, default.err
    assert "not trusted" in default.err
    # A wrong bundle in the environment does not override --ca-bundle or RWC_CA_BUNDLE.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files.other_ca_cert))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tls_files.other_ca_cert))
    ca = str(tls_files.ca_cert)
    opt = rwc(server, home, "ls", str(out), "--server", https, "--ca-bundle", ca, who="reader")
    assert opt.code == 0, opt.err
    env = rwc(
        server, home, "ls", str(out), who="reader", env={"RWC_SERVER": https, "RWC_CA_BUNDLE": ca}
    )
    assert env.code == 0, env.err


def test_paths_may_come_before_between_and_after_options(
    server: Any, home: Path, tmp_path: Path
) -> None:
    register, notes = make_tree(tmp_path / "in")
    out = tmp_path / "mixed.rwc"
    r = rwc(
        server,
        home,
        "seal",
        str(register),
        "-o",
        str(out),
        "--server",
        server.url,
        str(notes),
        "--reader",
        "clerk@city.example",
        "--medium",
        "USB-MIXED",
        *KDF,
        "--json",
    )
    assert r.code == 0, r.err
    assert r.json()["entries"] == 4
    dest = tmp_path / "dest"
    o = rwc(
        server, home, "open", str(out), "notes/a.txt", "-C", str(dest), "register.csv", who="reader"
    )
    assert o.code == 0, o.err
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "notes",
        "notes/a.txt",
        "register.csv",
    ]
    # `--` still ends the options: what follows is a PATH even if it looks like one.
    dash = rwc(server, home, "open", str(out), "-C", str(tmp_path / "d2"), "--", "-x", who="reader")
    assert dash.code == ExitCode.ERROR, dash.err
    assert "'-x' is not in this container" in dash.err
    assert not (tmp_path / "d2").exists()


@pytest.mark.parametrize(
    ("lang", "said"),
    [("en", "ASCII letters A-Z a-z"), ("ja", "半角の英字 A-Z a-z")],
)
def test_a_japanese_medium_name_is_a_usage_error_that_says_how_to_write_it(
    server: Any, home: Path, tmp_path: Path, lang: str, said: str
) -> None:
    make_tree(tmp_path / "in")
    out = tmp_path / "x.rwc"
    argv = ["--server", server.url, "--medium", "USB-2026-0417 経理課"]
    r = rwc(
        server, home, "seal", str(tmp_path / "in" / "register.csv"), "-o", str(out),
        *argv, "--reader", "clerk@city.example", *KDF, env={"RWC_LANG": lang},
    )  # fmt: skip
    assert r.code == ExitCode.USAGE, r.err
    assert "U+7D4C" in r.err and said in r.err, r.err
    assert '--medium "USB-2026-0417 keiri"' in r.err
    assert "compatible versions" not in r.err and "Traceback" not in r.err
    assert not out.exists()
    # The same name in ASCII letters is registered and sealed.
    ok = rwc(
        server, home, "seal", str(tmp_path / "in" / "register.csv"), "-o", str(out),
        "--server", server.url, "--medium", "USB-2026-0417 keiri",
        "--reader", "clerk@city.example", *KDF,
    )  # fmt: skip
    assert ok.code == ExitCode.OK, ok.err


@pytest.mark.parametrize(
    ("option", "value", "lang", "said"),
    [
        ("--label", "tab\there", "en", "--label refused"),
        ("--label", "tab\there", "ja", "--label の値は使えません"),
        ("--reader-group", "benefits section!", "en", "--reader-group refused"),
        ("--reader", "clerk two", "ja", "--reader の値は使えません"),
    ],
)
def test_a_refused_label_or_group_is_a_usage_error_not_a_version_mismatch(
    server: Any, home: Path, tmp_path: Path, option: str, value: str, lang: str, said: str
) -> None:
    # spec/protocol.md §problems: the server names the member (`field`) whose value a person
    # chose; rwc says which option to change, never "compatible versions".
    make_tree(tmp_path / "in")
    out = tmp_path / "x.rwc"
    r = rwc(
        server, home, "seal", str(tmp_path / "in" / "register.csv"), "-o", str(out),
        "--server", server.url, "--medium", "USB-1", "--reader", "clerk@city.example",
        option, value, *KDF, env={"RWC_LANG": lang},
    )  # fmt: skip
    assert r.code == ExitCode.USAGE, r.err
    assert said in r.err, r.err
    assert "compatible versions" not in r.err and "Traceback" not in r.err
    assert not out.exists()
