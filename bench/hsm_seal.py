"""CPU per key release of the two HSM designs (spec §keys-at-rest), against SoftHSM2.

    .venv/bin/python bench/hsm_seal.py [--n 3000]

A release opens one sealed seed (48 bytes: 32 + the GCM tag) under the master key.

- **per release through the HSM**: the seal key is the HSM's own key and every release is
  one PKCS#11 ``C_Decrypt`` (AES-GCM) in a session kept open (the best case: no login,
  no lookup per call);
- **data key unwrapped at start-up** (what rwc does): one ``C_Decrypt`` of the 32-byte
  data key when the server starts, then AES-GCM in process per release.

CPU time of this process (``time.process_time``; SoftHSM runs in it), so the machine's
load does not distort it. A network HSM adds a round trip per call to the first design,
paid under the audit chain-head lock the release holds (spec §evaluate).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pkcs11
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pkcs11 import Attribute, KeyType, Mechanism
from pkcs11.mechanisms import GCMParams

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "31415926"


def _token(tmp: Path) -> None:
    (tmp / "tokens").mkdir()
    conf = tmp / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    init = ["softhsm2-util", "--init-token", "--free", "--label", "bench"]
    subprocess.run(
        [*init, "--pin", PIN, "--so-pin", PIN],
        check=True,
        capture_output=True,
    )


def _per_call_us(fn: object, n: int) -> float:
    assert callable(fn)
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n * 1e6


def main() -> None:
    """Print CPU microseconds per release for both designs, and the start-up cost."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="releases measured per design")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _token(Path(tmp))
        lib = pkcs11.lib(MODULE)
        with lib.get_token(token_label="bench").open(rw=True, user_pin=PIN) as sess:
            key = sess.generate_key(
                KeyType.AES,
                256,
                label="w",
                store=True,
                template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
            )
            nonce, aad = os.urandom(12), b"rwc/v1 sealed seed\x00" + os.urandom(16)
            params = GCMParams(nonce, aad, 128)
            sealed = key.encrypt(
                os.urandom(32), mechanism=Mechanism.AES_GCM, mechanism_param=params
            )
            hsm_us = _per_call_us(
                lambda: key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=params),
                args.n,
            )
            data_key = os.urandom(32)
            aead = AESGCM(data_key)
            local = aead.encrypt(nonce, os.urandom(32), aad)
            local_us = _per_call_us(lambda: aead.decrypt(nonce, local, aad), args.n)
        start = time.process_time()
        with lib.get_token(token_label="bench").open(user_pin=PIN) as sess:
            key = sess.get_key(label="w", key_type=KeyType.AES)
            key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=params)
        startup_ms = (time.process_time() - start) * 1e3
    load = os.getloadavg()[0]
    print(f"per release, seal key in the HSM (C_Decrypt):     {hsm_us:8.1f} us CPU")
    print(f"per release, data key unwrapped at start-up:      {local_us:8.1f} us CPU")
    print(f"start-up: open session, log in, find key, decrypt: {startup_ms:7.1f} ms CPU")
    print(f"(n = {args.n}, load average {load:.1f})")


if __name__ == "__main__":
    main()
