"""A SoftHSM2 token of the test's own: a temporary token directory and configuration.

SoftHSM2 reads ``SOFTHSM2_CONF`` when the PKCS#11 module is initialised, and the key
server re-initialises the module at each use (keyserver/_store/hsm.py), so a test that
points the variable at its own configuration gets its own tokens: no state is shared
between tests or with the machine. ``softhsm2-util`` creates the token, as an
administrator would.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.requirements import missing

# Debian's softhsm2 package; the multiarch path on other architectures.
_MODULES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
)
PIN = "31415926"  # a test token's PIN; the tests check it never appears in output
SO_PIN = "27182818"


@dataclass(frozen=True)
class Token:
    """A SoftHSM2 token: module, label, PIN, and its configuration file."""

    module: Path
    label: str
    pin: str
    conf: Path

    def env(self, key_label: str = "rwc-master") -> dict[str, str]:
        """The ``KEYSERVER_*`` settings naming this token (PIN in the environment)."""
        return {
            "KEYSERVER_HSM_MODULE": str(self.module),
            "KEYSERVER_HSM_TOKEN_LABEL": self.label,
            "KEYSERVER_HSM_KEY_LABEL": key_label,
            "KEYSERVER_HSM_PIN": self.pin,
        }


def module() -> Path:
    """The SoftHSM2 PKCS#11 module, or skip (fail under RWC_TEST_STRICT)."""
    found = next((path for path in _MODULES if path.is_file()), None)
    if found is None:
        missing("SoftHSM2", "apt-get install softhsm2")
    return found


def new_token(tmp: Path, monkeypatch: pytest.MonkeyPatch, label: str = "rwc-test") -> Token:
    """Create a token in ``tmp`` and point this process (and its children) at it."""
    lib = module()
    util = shutil.which("softhsm2-util")
    if util is None:
        missing("softhsm2-util", "apt-get install softhsm2")
    tokens = tmp / "softhsm-tokens"
    tokens.mkdir(mode=0o700)
    conf = tmp / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(
        [util, "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        env={"SOFTHSM2_CONF": str(conf), "PATH": "/usr/bin:/bin"},
    )
    return Token(module=lib, label=label, pin=PIN, conf=conf)
