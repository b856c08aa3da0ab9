"""A CA bundle TLS cannot use is the user's setting, said at once (issue 9).

Before, `--ca-bundle` / `RWC_CA_BUNDLE` naming a file without read permission was an
OSError among the connection's: "connection failed", retried twice with pauses; a file
that is not PEM was a "TLS handshake error" blamed on the server. Both commands share the
check (pycontainer.client.transport.trust_store): the error names the file and what to
do, the exit code is a local one, nothing is retried and nothing is written.

Real: the `rwc` and `keyserver` commands (in process, and as processes for the file
without read permission: the tests run as root, so the process is started without the
capabilities that let root read any file), OpenSSL loading the file.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from keyserver._cli.errors import EXIT_CONFIG
from keyserver._cli.main import main as keyserver_main
from pycontainer.cli.exits import ExitCode
from pycontainer.cli.main import run
from pycontainer.client.keyserver import KeyServerClient
from pycontainer.client.transport import CaBundleError
from tests.support import requirements
from tests.support.processes import clean_env
from tests.support.rwc_args import seal_args

TOKEN = "rwc_" + "A" * 43
# Nothing listens on port 1: had the commands tried to connect, they would have said so.
SERVER = "https://localhost:1"
BIN = Path(sys.executable).parent


def _bad(tmp_path: Path, kind: str) -> Path:
    """A CA bundle of ``kind`` that TLS cannot use."""
    path = tmp_path / f"{kind}.pem"
    if kind == "directory":
        path.mkdir()
    elif kind == "der":  # a certificate in DER (.cer), not PEM: begins with a SEQUENCE
        path.write_bytes(bytes.fromhex("308203") + os.urandom(64))
    else:
        path.write_bytes({"empty": b"", "text": b"this is not a certificate\n"}[kind])
    return path


# What each refusal says: the file, then what is wrong with it.
SAID = {
    "directory": "is a directory, not a file",
    "empty": "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
    "text": "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
    "der": "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
}


@pytest.mark.parametrize("kind", sorted(SAID))
def test_rwc_says_which_file_and_what_to_do(tmp_path: Path, kind: str) -> None:
    bad = _bad(tmp_path, kind)
    src = tmp_path / "a.csv"
    src.write_bytes(b"a,b")
    out = tmp_path / "a.rwc"
    err = io.StringIO()
    env = {"XDG_CONFIG_HOME": str(tmp_path), "RWC_PASSWORD": "x", "RWC_TOKEN": TOKEN}
    code = run(
        ["--json", *seal_args(src, out, SERVER), "--ca-bundle", str(bad)],
        env=env,
        stdout=io.StringIO(),
        stderr=err,
    )
    error = json.loads(err.getvalue().strip().splitlines()[-1])["error"]
    assert code == ExitCode.ERROR and error["kind"] == "error", error
    assert error["message"] == f"the CA bundle {bad} {SAID[kind]}"
    assert "--ca-bundle" in error["hint"] and "PEM" in error["hint"]
    assert not out.exists()


@pytest.mark.parametrize("kind", sorted(SAID))
def test_keyserver_says_which_file_and_what_to_do(tmp_path: Path, kind: str) -> None:
    bad = _bad(tmp_path, kind)
    out, err = io.StringIO(), io.StringIO()
    argv = ["--json", "whoami", "--server", SERVER, "--ca-bundle", str(bad)]
    code = keyserver_main(argv, stdout=out, stderr=err, env={"KEYSERVER_TOKEN": TOKEN})
    error = json.loads(err.getvalue())["error"]
    assert code == EXIT_CONFIG, error
    assert error["message"] == (
        "The CA bundle named with --ca-bundle (or KEYSERVER_CA_BUNDLE) cannot be used."
        f" Detail: the CA bundle {bad} {SAID[kind]}"
    )
    assert "--ca-bundle" in error["hint"] and "KEYSERVER_CA_BUNDLE" in error["hint"]
    # The official reads it in Japanese, the file and the fault as the detail.
    err = io.StringIO()
    env = {"KEYSERVER_TOKEN": TOKEN, "KEYSERVER_LANG": "ja"}
    assert keyserver_main(argv[1:], stdout=out, stderr=err, env=env) == EXIT_CONFIG
    assert err.getvalue() == (
        "keyserver: error: --ca-bundle(または KEYSERVER_CA_BUNDLE)で指定した CA 証明書の"
        f"ファイルを使えません。詳細: the CA bundle {bad} {SAID[kind]}\n"
        "keyserver: hint: 鍵サーバーの証明書に署名した CA の証明書(PEM 形式)のファイルを"
        " --ca-bundle FILE(または KEYSERVER_CA_BUNDLE)で指定してください。\n"
    )


def test_a_damaged_certificate_is_not_a_connection_failure(tmp_path: Path) -> None:
    """PEM-looking, but OpenSSL cannot load it: found when the context is built, and
    still the trust store's error, raised at once, never retried."""
    bad = tmp_path / "broken.pem"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    pauses: list[float] = []
    client = KeyServerClient(SERVER, TOKEN, ca_bundle=str(bad), retries=2, sleep=pauses.append)
    with client, pytest.raises(CaBundleError, match=f"^the CA bundle {bad} cannot be used"):
        client.whoami()
    assert pauses == []


def test_a_file_without_read_permission_is_said_at_once(tmp_path: Path) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        requirements.missing("setpriv (util-linux)", "apt-get install util-linux")
    bundle = tmp_path / "city-ca.pem"
    bundle.write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    bundle.chmod(0)
    # Root reads any file through these two capabilities: the commands run without them.
    unprivileged = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    src = tmp_path / "a.csv"
    src.write_bytes(b"a,b")
    out = tmp_path / "a.rwc"
    env = clean_env(XDG_CONFIG_HOME=str(tmp_path), RWC_PASSWORD="x", RWC_TOKEN=TOKEN)
    argv = [str(BIN / "rwc"), "--json", *seal_args(src, out, SERVER), "--ca-bundle", str(bundle)]
    rwc = subprocess.run(
        [*unprivileged, *argv], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    error = json.loads(rwc.stderr.strip().splitlines()[-1])["error"]
    assert rwc.returncode == ExitCode.ERROR, rwc.stderr
    assert error["message"] == f"cannot read the CA bundle {bundle}: Permission denied"
    assert "readable" in error["hint"] and "--ca-bundle" in error["hint"]
    assert not out.exists()
    env = clean_env(KEYSERVER_TOKEN=TOKEN)
    argv = [str(BIN / "keyserver"), "--json", "whoami", "--server", SERVER]
    ks = subprocess.run(
        [*unprivileged, *argv, "--ca-bundle", str(bundle)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ks.returncode == EXIT_CONFIG, ks.stderr
    error = json.loads(ks.stderr)["error"]
    assert error["message"].endswith(
        f" Detail: cannot read the CA bundle {bundle}: Permission denied"
    )
