"""The `rwc` command imports only what a subcommand uses (issue 15: start-up of small opens).

Every `rwc` run builds the parsers of all subcommands, so the modules that only some of them
need (the HTTP client and requests, the container reader and writer,
cryptography, argon2 and voprf, rich's progress bars) must not be imported by the parser
modules themselves. Checked in a fresh interpreter: which modules got imported, not how long
it took (timings live in bench/).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

import pycontainer
from pycontainer.cli import strictargs
from pycontainer.cli.main import run
from pycontainer.client.tokens import TokenStore

REPO = Path(__file__).resolve().parents[2]
HEAVY = (
    "requests",
    "urllib3",
    "rich",
    "cryptography",
    "argon2",
    "_argon2_cffi_bindings",
    "voprf",
    "pycontainer.reader",
    "pycontainer.writer",
    "pycontainer.client.keyserver",
    "importlib.metadata",  # --version only
)


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import pycontainer",
        "import pycontainer.cli.main",
        # --help and usage errors build every parser and stop there.
        "from pycontainer.cli.main import build_parser; build_parser()",
    ],
)
def test_parsers_import_nothing_heavy(code: str) -> None:
    loaded = _loaded_after(code)
    assert sorted(h for h in HEAVY if h in loaded) == []


@pytest.mark.parametrize("code", ["import pycontainer", "import pycontainer.cli.entry"])
def test_entry_module_imports_no_typing(code: str) -> None:
    # rwc's console script imports the package and its entry module before the entry point
    # turns the garbage collector off (pycontainer/cli/entry.py): typing imported there
    # costs the collector's passes over it, ~2 M instructions (bench/profiles/startup.md).
    # Later modules import it with the collector off.
    assert "typing" not in _loaded_after(code)


def test_aes_gcm_is_cryptographys_own_class() -> None:
    # pycontainer.format.stream takes AESGCM from cryptography's Rust binding, where the
    # public module takes it from: the very same class, not a look-alike.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415

    from pycontainer.format import stream  # noqa: PLC0415

    assert stream.AESGCM is AESGCM  # and the key schedule's (it imports this one)


def test_hkdf_and_hmac_are_cryptographys_own_classes() -> None:
    # pycontainer.format.keyschedule takes HKDF and HMAC where cryptography's public modules
    # take them from, as stream.py takes AESGCM: the very same classes.
    from cryptography.hazmat.primitives.hmac import HMAC  # noqa: PLC0415
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415

    from pycontainer.format import keyschedule  # noqa: PLC0415

    assert keyschedule.HKDF is HKDF
    assert keyschedule.HMAC is HMAC


def test_a_readers_modules_define_one_named_tuple() -> None:
    # Records (pycontainer/_record.py) where NamedTuples were: each costs ~0.5 M instructions
    # less to define, and a small cat's modules defined 18 (issue 15). Entry stays one: an
    # index makes one per file, and a record's generic __init__ costs more per instance.
    code = (
        "import sys, pycontainer.cli.main, pycontainer.reader, pycontainer.client.keyserver\n"
        "mods = [m for n, m in list(sys.modules.items()) if n.startswith('pycontainer')]\n"
        "print(sorted(f'{v.__module__}.{k}' for m in mods for k, v in vars(m).items()\n"
        "    if isinstance(v, type) and issubclass(v, tuple) and hasattr(v, '_fields')\n"
        "    and v.__module__ == m.__name__))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out.split() == ["['pycontainer.format.archive.Entry']"]


def test_public_names_load_on_first_use() -> None:
    for name in pycontainer.__all__:
        value = getattr(pycontainer, name)
        home = sys.modules[value.__module__]
        assert getattr(home, name) is value, name
    assert set(pycontainer.__all__) <= set(dir(pycontainer))
    with pytest.raises(AttributeError):
        pycontainer.no_such_name  # noqa: B018


def test_key_server_client_imports_no_http_library() -> None:
    # rwc's HTTP client is its own over socket, answers parsed by httptools
    # (pycontainer/client/connection.py, http11.py): requests and its dependencies cost more
    # to import than a small open's whole start-up budget, and http.client imports ssl and
    # the email package whatever the scheme (issue 15, bench/profiles/startup.md).
    loaded = _loaded_after("import pycontainer.client.keyserver")
    heavy = ["requests", "urllib3", "charset_normalizer", "idna", "importlib.metadata"]
    heavy += ["http.client", "email", "ssl"]
    assert sorted(h for h in heavy if h in loaded) == []
    assert "httptools" in loaded


def test_https_exchange_imports_ssl_only(server: Any, tls_files: Any, tls_port: int) -> None:
    # An https exchange needs ssl, and nothing of http.client's: no email package, and no
    # idna codec (the ASCII host name goes to getaddrinfo and to ssl as bytes).
    url = f"https://localhost:{tls_port}"
    code = (
        "from pycontainer.client.keyserver import KeyServerClient\n"
        f"c = KeyServerClient({url!r}, {server.tokens['reader']!r},"
        f" ca_bundle={str(tls_files.ca_cert)!r}, retries=0)\n"
        "assert c.whoami().name == 'clerk@city.example'"
    )
    loaded = _loaded_after(code)
    assert "ssl" in loaded
    assert sorted(m for m in ("http.client", "email", "encodings.idna") if m in loaded) == []


# What no `rwc` run needs before it reads a container or talks to a server: pdb (which
# the header codec's former library loaded), the crypto and KDF libraries, the HTTP stack
# with ssl, the TLS trust store.
NOT_FOR_STARTUP = (
    "pdb",
    "cryptography",
    "argon2",
    "_argon2_cffi_bindings",
    "voprf",
    "http.client",
    "httptools",
    "ssl",
    "certifi",
    "pycontainer.reader",
    "pycontainer.writer",
    "pycontainer.client.keyserver",
    "rich",
)


def _rwc_modules(argv: list[str], env: dict[str, str], out: Path) -> tuple[int, dict[str, Any]]:
    """Run ``rwc ARGV`` in a fresh interpreter, through the console script's entry point.

    Returns:
        The exit code and what the run did: ``modules`` (all it imported), ``compilers``
        (the qualified names of the callers of every "compile" audit event), ``imports``
        ([module, collector on] for each module the run itself loaded, in order),
        ``connects`` (collector on, at each socket connection), ``collector`` (on, and
        the number of frozen objects, once the run was over) and ``patterns`` ([module,
        pattern] for each regular expression compiled with ``re.compile``).
    """
    dump = out / "modules.json"
    probe = (
        "import gc, json, sys\n"
        "compilers, imports, connects, started = set(), [], [], []\n"
        "def hook(event, args):\n"
        "    if event == 'compile':\n"
        "        compilers.add(sys._getframe(1).f_code.co_qualname)\n"
        "    elif event == 'import' and started:\n"
        "        imports.append([args[0], gc.isenabled()])\n"
        "    elif event == 'socket.connect':\n"
        "        connects.append(gc.isenabled())\n"
        "sys.addaudithook(hook)\n"
        "import re\n"  # as rwc's console script does first
        "patterns, _compile = set(), re.compile\n"
        "def compile_(pattern, flags=0):\n"
        "    patterns.add((str(sys._getframe(1).f_globals.get('__name__')), str(pattern)))\n"
        "    return _compile(pattern, flags)\n"
        "re.compile = compile_\n"
        "from pycontainer.cli.entry import main\n"
        "started.append(True)\n"
        f"code = main({argv!r})\n"
        "found = {'modules': sorted(sys.modules), 'compilers': sorted(compilers),\n"
        "         'imports': imports, 'connects': connects,\n"
        "         'collector': [gc.isenabled(), gc.get_freeze_count()],\n"
        "         'patterns': sorted(patterns)}\n"
        f"open({str(dump)!r}, 'w').write(json.dumps(found))\n"
        "sys.exit(code)\n"
    )
    # Without `site` (-S), the checkout and the venv's site-packages as plain paths: the
    # development venv's editable install runs setuptools' finder at every start, which
    # imports pathlib (with urllib.parse and ipaddress) before rwc runs; an installed rwc
    # has no such finder (bench/commands.py installed_rwc).
    paths = os.pathsep.join([str(REPO), sysconfig.get_paths()["purelib"]])
    done = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env={**env, "PYTHONPATH": paths},
        capture_output=True,
        timeout=120,
        check=False,
    )
    found = json.loads(dump.read_text())
    found["modules"] = set(found["modules"])
    found["compilers"] = set(found["compilers"])
    return done.returncode, found


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["cat", "--help"], ["info"]])
def test_startup_imports_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    # --version, --help and a usage error stop before any container or server: they must not
    # pay for what only reading, sealing or the network needs (issue 15).
    code, found = _rwc_modules(argv, dict(os.environ), tmp_path)
    loaded = found["modules"]
    assert code == (2 if argv == ["info"] else 0)
    assert sorted(m for m in NOT_FOR_STARTUP if m in loaded) == []
    # --version prints the package's constant: no importlib.metadata (with the email
    # package and shutil); argparse's formatters are told their width (strictargs).
    assert sorted(m for m in ("importlib.metadata", "email", "shutil") if m in loaded) == []


def test_version_is_the_distributions() -> None:
    # pyproject.toml builds the distribution's version from pycontainer.__version__, which
    # `rwc --version` prints: the two cannot differ (keyserver --version prints the same).
    out = io.StringIO()
    assert run(["--version"], stdout=out, stderr=out) == 0
    assert out.getvalue() == f"rwc {importlib.metadata.version('rwc')}\n"
    assert pycontainer.__version__ == importlib.metadata.version("rwc")


def _small_container(server: Any, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A 3-byte CSV sealed for the reader (a cheap Argon2id); the reader's environment."""
    src = tmp_path / "small.csv"
    src.write_bytes(b"a,b")
    box = tmp_path / "small.rwc"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "RWC_PASSWORD": "correct horse",
        "RWC_SERVER": server.url,
    }
    kdf = ["--kdf-memory", "8192", "--kdf-time", "1", "--kdf-parallelism", "1"]
    seal = ["seal", str(src), "-o", str(box), "--medium", "M-1", "--reader", "clerk@city.example"]
    sealed = run([*seal, *kdf], env={**env, "RWC_TOKEN": server.tokens["writer"]})
    assert sealed == 0
    return box, {**env, "RWC_TOKEN": server.tokens["reader"]}


def test_small_open_imports_everything_before_its_work(server: Any, tmp_path: Path) -> None:
    """A `rwc open -C`: the extraction engine and pathlib (which it needs) load in the import
    phase with the collector off, like a cat's modules, not where the reader first extracts
    (issue 15: ~2.8 M instructions of collector passes, bench/profiles/startup.md)."""
    box, reader_env = _small_container(server, tmp_path)
    out = tmp_path / "out"
    code, found = _rwc_modules(["open", str(box), "-C", str(out)], reader_env, tmp_path)
    assert code == 0
    assert (out / "small.csv").read_bytes() == b"a,b"  # a real extraction
    loaded = found["modules"]
    assert {"pycontainer._engine.extract", "pycontainer._engine.staging", "pathlib"} <= loaded
    late = [m for m, collecting in found["imports"] if collecting]
    assert late == [], late
    assert found["connects"] and all(found["connects"]), found["connects"]
    # What an open does not need either: no writer, no rich for a pipe, no TLS for http://,
    # no refusal texts (pycontainer.cli.refusals, with datetime) when nothing was refused.
    unused = ["pycontainer.writer", "rich", "ssl", "certifi", "pdb"]
    unused += ["pycontainer.cli.refusals", "datetime", "concurrent.futures"]
    assert sorted(m for m in unused if m in loaded) == []


@pytest.mark.parametrize("token", ["RWC_TOKEN", "stored"])
def test_small_cat_imports_only_what_it_uses(server: Any, tmp_path: Path, token: str) -> None:
    """A `rwc cat` from a loopback (http://) server: no pdb, certifi or rich, no
    concurrent.futures for a one-chunk file, no argon2 package, no http.client, email or
    ssl, no pathlib (issue 15); with RWC_TOKEN, and with the token `rwc login` stored."""
    box, reader_env = _small_container(server, tmp_path)
    if token == "stored":  # read from the token store (pycontainer.client.tokens)
        TokenStore(tmp_path / "cfg" / "rwc").put(server.url, reader_env.pop("RWC_TOKEN"))
    code, found = _rwc_modules(["cat", str(box), "small.csv"], reader_env, tmp_path)
    loaded, compilers = found["modules"], found["compilers"]
    assert code == 0
    # Reading parses the header with the stdlib's struct (pycontainer.format.header); a plain
    # http:// loopback server needs no TLS trust store; stdout is not a terminal: no rich.
    # A one-chunk entry is read with no thread pool; a given password needs no prompt
    # (getpass), and what only errors or saving a token use is imported there.
    unused = ["pdb", "certifi", "rich", "concurrent.futures"]
    unused += ["getpass", "traceback", "difflib", "secrets"]
    # Argon2id is libargon2 through its binding (pycontainer.format.keyschedule): not the
    # argon2 package, whose password hasher and profiles load dataclasses and inspect.
    unused += ["argon2", "dataclasses", "inspect"]
    unused += ["shutil"]  # argparse's formatters are told their width
    # HTTP/1.1 over socket, answers parsed by httptools (pycontainer/client/http11.py): no
    # http.client, which imports ssl and the email package whatever the scheme; no ssl for
    # plain http://; no idna codec (the host goes to getaddrinfo as ASCII bytes).
    unused += ["http.client", "email", "ssl", "encodings.idna"]
    # HMAC and SHA-256 from cryptography (pycontainer.format.keyschedule): not the stdlib's
    # hmac and hashlib, which load the system's libcrypto beside cryptography's; datetime
    # only where a listing shows times or a seal parses --expires.
    unused += ["hashlib", "hmac", "_hashlib", "datetime"]
    # A cat's paths (the container, the password file, the token store, the CA bundle) are
    # strings through os.path: pathlib imports ntpath, fnmatch and urllib.parse, which
    # imports ipaddress, ~14 M instructions (bench/profiles/startup.md); the proxy settings
    # (urllib.parse, urllib.request) only for a remote https server.
    unused += ["pathlib", "urllib.parse", "ipaddress"]
    # argparse's messages stay its English (pycontainer/cli/entry.py): no gettext look-ups,
    # whose first one imports locale.
    unused += ["locale"]
    # AES-GCM from cryptography's binding (pycontainer/format/stream.py): not through the
    # ciphers package, which loads every block cipher and mode, the deprecated ones too.
    unused += ["cryptography.hazmat.primitives.ciphers", "cryptography.hazmat.decrepit"]
    # HKDF and HMAC from the binding too (pycontainer/format/keyschedule.py): not through the
    # kdf package and the hmac module, which only register them with abstract classes.
    unused += ["cryptography.hazmat.primitives.kdf", "cryptography.hazmat.primitives.hmac"]
    # A one-chunk entry is decrypted in the main thread, and no other is started: no
    # threading (the seek lock is _thread's, the end and the signal handlers ask without
    # it), ~2.8 M instructions; SIGTERM and SIGHUP are handled through _signal, without
    # the enums `signal` makes as it is imported, ~3 M (bench/profiles/startup.md).
    unused += ["threading", "signal"]
    # base64url through binascii (pycontainer/client/wire.py), not the base64 module; a
    # seal's expiry texts (cli.times) and the progress callback's alias module neither.
    unused += ["base64", "pycontainer.cli.times", "pycontainer.progress"]
    # A 3-byte container is read through the page cache: no writeback (direct reads ask it
    # about the file system only for files of 8 MiB and more).
    unused += ["pycontainer._engine.writeback"]
    assert sorted(m for m in unused if m in loaded) == []
    # ... and it did use what it needs, so the probe saw a real open.
    needed = {"_argon2_cffi_bindings", "cryptography", "httptools", "pycontainer.reader"}
    assert needed <= loaded
    # No typing.ForwardRef: a NamedTuple's string annotations (`from __future__ import
    # annotations`) are compiled, and the first compile() builds the ast node types, ~10 M
    # instructions (bench/profiles/startup.md). namedtuple's own eval() is cheap and allowed.
    assert "ForwardRef.__init__" not in compilers
    assert "namedtuple" in compilers  # the hook saw the NamedTuples being made
    # The import phase runs without the garbage collector and ends before the work
    # (pycontainer/cli/entry.py): every module the run loaded, the subcommand's included,
    # was loaded with the collector off; it was on again when the work reached the server,
    # and at the end, with the import phase's objects frozen.
    assert len(found["imports"]) > 100, found["imports"]
    assert [m for m, collecting in found["imports"] if collecting] == []
    assert found["connects"] and all(found["connects"]), found["connects"]
    on, frozen = found["collector"]
    assert on and frozen > 10_000, found["collector"]
    # Only what a small cat runs: no extraction (pycontainer._engine.extract), no writer,
    # no types of the register and whoami exchanges (pycontainer.client.records).
    unread = ("pycontainer._engine.extract", "pycontainer.writer", "pycontainer.client.records")
    assert sorted(m for m in unread if m in loaded) == []
    # The server URL's grammar, the token's and three of the archive's path rules are
    # checked with str methods, the device-name rule's expression compiled only for a path
    # with a device name's first letters: sre's compiler is Python, ~5 M instructions for
    # those eleven expressions (bench/profiles/startup.md). One is left: the archive's
    # control and Windows characters (one scan finds the first one, which the error names).
    compiled = [m for m, _pattern in found["patterns"] if m.startswith("pycontainer")]
    assert compiled == ["pycontainer.format.archive"]


@pytest.mark.parametrize("columns", ["", "0", "x", "60", "200"])
@pytest.mark.parametrize("argv", [["--help"], ["cat", "--help"], ["seal", "--help"]])
def test_help_is_laid_out_as_argparse_would(
    argv: list[str], columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # strictargs gives argparse's formatters shutil's width without importing shutil: the
    # help must come out exactly as argparse's own look-up lays it out.
    monkeypatch.setenv("COLUMNS", columns)

    def helped() -> str:
        out = io.StringIO()
        assert run(argv, stdout=out, stderr=out) == 0
        return out.getvalue()

    ours = helped()
    monkeypatch.setattr(
        strictargs.StrictParser, "_get_formatter", argparse.ArgumentParser._get_formatter
    )
    assert ours == helped()
    assert strictargs.help_width() == shutil.get_terminal_size().columns - 2
