"""The TLS context built in a thread before the imports (pycontainer.client.tls, issue 15).

Real: the key server over TLS with the test CA (tests/cli/conftest.py), OpenSSL loading the
stores, the `rwc` command in-process. The spies below only count calls of the real code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pycontainer.cli.exits import ExitCode
from pycontainer.client import tls
from pycontainer.client.keyserver import KeyServerClient
from pycontainer.client.tokens import TokenStore
from pycontainer.client.transport import CaBundleError
from pycontainer.errors import KeyServerUnavailableError
from tests.support.rwc_args import KDF
from tests.support.rwc_run import run_rwc


class _Spy:
    """Records every PendingContext started and every join, running the real ones."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started: list[tls.PendingContext] = []
        self.joined: list[tls.PendingContext] = []
        spy = self

        class Recorded(tls.PendingContext):
            def __init__(self, trust_store: str) -> None:
                super().__init__(trust_store)
                spy.started.append(self)

            def get(self) -> Any:
                spy.joined.append(self)
                return super().get()

        monkeypatch.setattr(tls, "PendingContext", Recorded)


def _rwc(home: Path, *argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    result = run_rwc(home, *argv, env={"RWC_PASSWORD": "correct horse", **env})
    return result.code, result.text, result.err


def _seal(server: Any, home: Path, tmp_path: Path, url: str, *extra: str) -> Path:
    src = tmp_path / "a.csv"
    src.write_bytes(b"a,b")
    out = tmp_path / "a.rwc"
    argv = ["seal", str(src), "-o", str(out), "--server", url, "--label", "t"]
    argv += ["--medium", "USB-TLS", "--reader", "clerk@city.example", *KDF, *extra]
    code, _, err = _rwc(home, *argv, env={"RWC_TOKEN": server.tokens["writer"]})
    assert code == 0, err
    return out


def test_https_open_joins_the_context_started_before_the_imports(
    server: Any,
    home: Path,
    tmp_path: Path,
    tls_files: Any,
    tls_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    https = f"https://localhost:{tls_port}"
    ca = str(tls_files.ca_cert)
    spy = _Spy(monkeypatch)
    out = _seal(server, home, tmp_path, https, "--ca-bundle", ca)
    assert [p.trust_store for p in spy.started] == [ca]  # seal: one, for its --ca-bundle
    assert spy.joined == spy.started
    reader = {"RWC_TOKEN": server.tokens["reader"], "RWC_SERVER": https, "RWC_CA_BUNDLE": ca}
    code, text, err = _rwc(home, "cat", str(out), "a.csv", env=reader)
    assert (code, text) == (0, "a,b"), err
    assert [p.trust_store for p in spy.started] == [ca, ca]
    assert spy.joined == spy.started  # the request used the thread's context


def test_the_slot_url_is_read_early_to_start_the_thread(
    server: Any,
    home: Path,
    tmp_path: Path,
    tls_files: Any,
    tls_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No --server: the container's own https URL, peeked at before the imports."""
    https = f"https://localhost:{tls_port}"
    ca = str(tls_files.ca_cert)
    out = _seal(server, home, tmp_path, https, "--ca-bundle", ca)
    TokenStore(home / "rwc").put(https, server.tokens["reader"])  # as `rwc login` stores it
    spy = _Spy(monkeypatch)
    code, text, err = _rwc(home, "cat", str(out), "a.csv", env={"RWC_CA_BUNDLE": ca})
    assert (code, text) == (0, "a,b"), err
    assert [p.trust_store for p in spy.started] == [ca]
    assert spy.joined == spy.started


def test_plain_http_loopback_starts_no_thread(
    server: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _seal(server, home, tmp_path, server.url)
    spy = _Spy(monkeypatch)
    env = {"RWC_TOKEN": server.tokens["reader"], "RWC_SERVER": server.url}
    code, text, err = _rwc(home, "cat", str(out), "a.csv", env=env)
    assert (code, text) == (0, "a,b"), err
    assert spy.started == []
    # Nor for the slot's http:// URL, nor with a --ca-bundle named (it is still checked).
    TokenStore(home / "rwc").put(server.url, server.tokens["reader"])
    code, text, err = _rwc(home, "cat", str(out), "a.csv", env={})
    assert (code, text) == (0, "a,b"), err
    assert spy.started == []


def test_a_bad_ca_file_fails_as_it_did_without_the_thread(
    server: Any, home: Path, tmp_path: Path, tls_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread's error is raised at the join: same message, hint and exit code.

    A file that looks like PEM but that OpenSSL cannot load (a file that is not PEM at
    all is refused before any thread: tests/cli/test_ca_bundle.py).
    """
    https = f"https://localhost:{tls_port}"
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n")
    # What the client says when it builds the context itself, at its first request.
    with (
        KeyServerClient(https, server.tokens["reader"], ca_bundle=str(bad), retries=0) as c,
        pytest.raises(CaBundleError) as direct,
    ):
        c.whoami()
    assert direct.value.hint is not None and "--ca-bundle" in direct.value.hint
    # `rwc ls` with --server: the context is started before the imports, fails in the thread.
    sealed = _seal(server, home, tmp_path, server.url)
    spy = _Spy(monkeypatch)
    env = {"RWC_TOKEN": server.tokens["reader"], "RWC_SERVER": https}
    code, _, err = _rwc(home, "--json", "ls", str(sealed), "--ca-bundle", str(bad), env=env)
    assert [p.trust_store for p in spy.started] == [str(bad)]
    assert spy.joined == spy.started
    assert code == ExitCode.ERROR
    doc = json.loads(err.strip().splitlines()[-1])["error"]
    assert doc["message"] == str(direct.value)
    assert doc["hint"] == direct.value.hint


def test_a_context_started_for_another_store_is_never_used(
    server: Any, tls_files: Any, tls_port: int
) -> None:
    """The client's own --ca-bundle decides whom it trusts, whatever was started early."""
    https = f"https://localhost:{tls_port}"
    token = server.tokens["reader"]
    ca, other = str(tls_files.ca_cert), str(tls_files.other_ca_cert)
    trusting_other = tls.start(https, other)
    assert trusting_other is not None
    with KeyServerClient(https, token, ca_bundle=ca, retries=0, tls=trusting_other) as c:
        assert c.whoami().name == "clerk@city.example"
    trusting_ca = tls.start(https, ca)
    with (
        KeyServerClient(https, token, ca_bundle=other, retries=0, tls=trusting_ca) as c,
        pytest.raises(KeyServerUnavailableError, match="not trusted"),
    ):
        c.whoami()


def test_start_is_best_effort(tmp_path: Path, tls_files: Any) -> None:
    """None where there is no TLS or the client will refuse (and say why) itself."""
    assert tls.start("http://127.0.0.1:8080", None) is None
    assert tls.start("http://127.0.0.1:8080", str(tls_files.ca_cert)) is None
    assert tls.start("https://keys.city.example", str(tmp_path / "missing.pem")) is None
    assert tls.start("http://keys.city.example", None) is None  # refused by the URL policy
    assert tls.start("ftp://keys.city.example", None) is None
    pending = tls.start("https://keys.city.example", None)  # certifi's store
    assert pending is not None
    assert pending.get().check_hostname


def test_the_default_store_is_certifis_file_without_importing_certifi() -> None:
    """The file requests would trust (certifi.where()), found by find_spec (transport.py)."""
    code = (
        "import sys\n"
        "from pycontainer.client.transport import trust_store\n"
        "store = trust_store(None, option='--ca-bundle')\n"
        "loaded = 'certifi' in sys.modules\n"
        "import certifi\n"
        "print(store == certifi.where(), loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["True", "False"]


def test_a_run_refused_while_the_context_loads_exits_with_its_code(tmp_path: Path) -> None:
    """A run that ends before its first request leaves the build behind, and exits cleanly.

    `rwc seal -o -` with an https server is a usage error (exit 2) said after the context
    was started. The normal interpreter exit tore the interpreter and OpenSSL (its exit
    handler) down beneath the thread still loading the store, and the process died of
    SIGSEGV in about one run in fifteen to thirty; the console script now ends with
    os._exit whenever only daemon threads are left (pycontainer.cli.main._end), so the
    interpreter's exit handlers never run: the probe's handler tells, in every run, not
    only in the runs that would have crashed.
    """
    certifi = subprocess.run(
        [sys.executable, "-c", "import certifi; print(certifi.where())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    big = tmp_path / "big.pem"  # ~1,200 certificates: still loading when the run ends
    big.write_bytes(Path(certifi).read_bytes() * 10)
    src = tmp_path / "a.txt"
    src.write_text("a")
    marker = tmp_path / "teardown"
    probe = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'a').write('x'))\n"
        f"sys.argv[1:] = ['seal', {str(src)!r}, '-o', '-', '--server',"
        " 'https://keys.city.example', '--no-password', '--ca-bundle', sys.argv[1]]\n"
        "from pycontainer.cli.entry import main\n"
        "sys.exit(main())\n"
    )
    codes = [
        subprocess.run(
            [sys.executable, "-c", probe, str(big)], capture_output=True, timeout=60, check=False
        ).returncode
        for _ in range(8)
    ]
    assert codes == [ExitCode.USAGE] * 8
    assert not marker.exists()
