"""An altered copy is caught before an attempt counts (spec/protocol.md §evaluate, issue 11).

Against a real key server over a loopback socket: a tampered header, a truncated payload
and a swapped container id each open with their own class, and the attempt budget
(``unconfirmed``) of the container they aim at is left as it was. The refusal is audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pycontainer.client.keyserver import KeyServerClient, Policy, b64url_encode
from pycontainer.errors import KeyServerHeaderMismatchError, PayloadError
from pycontainer.format import header as hdr
from pycontainer.format.primitives import Argon2Params
from pycontainer.keyrelease import SlotInfo
from pycontainer.reader import open_container
from pycontainer.writer import seal_paths
from tests.support.live import LiveServer

FAST = Argon2Params(m=8192, t=1, p=1)


def client(server: Any, who: str) -> KeyServerClient:
    return KeyServerClient(server.url, server.tokens[who], retries=0)


def sealed(server: Any, tmp_path: Path) -> tuple[Path, bytes]:
    src = tmp_path / "register.csv"
    src.write_text("id,name\n1,Tanaka\n" * 400)  # a few chunks
    w = client(server, "writer")
    reg = w.register(
        Policy(readers=("clerk@city.example",), label="altered copy", medium="USB-ALT-1")
    )
    slot = SlotInfo(server.url, reg.container_id, reg.public_key)
    out = tmp_path / "c.rwc"
    res = seal_paths([src], out, slot=slot, key_server=w, password="pw", argon2=FAST)
    w.commit(res.container_id, res.header_digest, res.receipt_key)
    return out, res.container_id


def _status(server: LiveServer, cid: bytes) -> dict[str, Any]:
    return server.official_get(f"/v1/containers/{b64url_encode(cid)}")


def _audit(server: LiveServer, cid: bytes) -> list[dict[str, Any]]:
    entries = server.official_get("/v1/audit", container=b64url_encode(cid))["entries"]
    assert isinstance(entries, list)
    return entries


def _open(server: Any, path: Path, sent: list[bytes] | None = None) -> None:
    reader = client(server, "reader")

    def send(cid: bytes, challenge: bytes, mac: bytes) -> None:
        reader.receipt(cid, challenge, mac)
        if sent is not None:
            sent.append(challenge)

    with open_container(path, key_server=reader, password="pw", send_receipt=send) as c:
        c.verify()


def test_tampered_header_is_refused_uncounted_and_audited(server: Any, tmp_path: Path) -> None:
    path, cid = sealed(server, tmp_path)
    data = bytearray(path.read_bytes())
    data[17] ^= 0x01  # payload_nonce: still a well-formed header, another digest
    path.write_bytes(bytes(data))
    before = _status(server, cid)["unconfirmed"]
    for _ in range(3):
        with pytest.raises(KeyServerHeaderMismatchError, match="altered"):
            _open(server, path)
    assert _status(server, cid)["unconfirmed"] == before
    assert _status(server, cid)["state"] == "active"
    refused = [
        e
        for e in _audit(server, cid)
        if e["action"] == "evaluate" and e["details"].get("reason") == "header-mismatch"
    ]
    assert len(refused) == 3
    assert all(e["outcome"] == "refused" for e in refused)


def test_swapped_container_id_cannot_spend_another_budget(server: Any, tmp_path: Path) -> None:
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    a_dir.mkdir()
    b_dir.mkdir()
    a_path, _ = sealed(server, a_dir)
    _, b_cid = sealed(server, b_dir)
    # Copy A with B's container id: a valid header aimed at B's budget.
    raw = a_path.read_bytes()
    length = hdr.header_length(raw[:14])
    a_header = hdr.decode_header(raw[:length])
    slot = a_header.oprf_slots()[0]
    start = raw.index(slot.container_id)
    swapped = raw[:start] + b_cid + raw[start + 16 :]
    target = tmp_path / "swapped.rwc"
    target.write_bytes(swapped)
    before = _status(server, b_cid)["unconfirmed"]
    with pytest.raises(KeyServerHeaderMismatchError):
        _open(server, target)
    assert _status(server, b_cid)["unconfirmed"] == before


def test_truncated_copy_costs_no_attempt(server: Any, tmp_path: Path) -> None:
    path, cid = sealed(server, tmp_path)
    raw = path.read_bytes()
    length = hdr.header_length(raw[:14])
    before = _status(server, cid)["unconfirmed"]
    # Only the header left: refused in step 1, the server is not even asked.
    path.write_bytes(raw[:length])
    with pytest.raises(PayloadError):
        _open(server, path)
    assert _status(server, cid)["unconfirmed"] == before
    # One byte short: the key is released and the receipt goes out at unwrap, before the
    # payload fails, so the attempt is confirmed (spec §receipts).
    path.write_bytes(raw[:-1])
    sent: list[bytes] = []
    with pytest.raises(PayloadError):
        _open(server, path, sent)
    assert len(sent) == 1
    status = _status(server, cid)
    assert status["unconfirmed"] == 0
    assert status["state"] == "active"


def test_rwc_reports_an_altered_copy_with_the_tamper_code() -> None:
    from pycontainer.cli.exits import ExitCode, exit_code_for  # noqa: PLC0415
    from pycontainer.client.problems import problem_to_error  # noqa: PLC0415

    body = (
        b'{"type": "urn:rwc:problem:header-mismatch", "title": "Container header does not '
        b'match", "status": 409, "detail": "altered", "contact": "security desk"}'
    )
    err = problem_to_error(409, "application/problem+json", body, what="release the key")
    assert isinstance(err, KeyServerHeaderMismatchError)
    assert "not counted" in str(err) or "nothing was counted" in str(err)
    assert err.hint is not None and "security desk" in err.hint
    assert exit_code_for(err) == ExitCode.CORRUPT
