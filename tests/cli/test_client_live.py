"""KeyServerClient against a real key server over a loopback socket.

Every problem mapping is produced by a real server state (suspend, destroy, policy, clock),
never by a canned response.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import requests

from pycontainer.client.keyserver import KeyServerClient, Policy, b64url_encode
from pycontainer.errors import (
    KeyServerCallError,
    KeyServerDeniedError,
    KeyServerExpiredError,
    KeyServerInvalidValueError,
    KeyServerProtocolError,
    KeyServerRevokedError,
    KeyServerSuspendedError,
    WrongPasswordError,
)
from pycontainer.format import oprf
from pycontainer.format.primitives import Argon2Params
from pycontainer.keyrelease import SlotInfo
from pycontainer.reader import open_container
from pycontainer.writer import seal_paths

FAST = Argon2Params(m=8192, t=1, p=1)


def client(server: Any, who: str) -> KeyServerClient:
    return KeyServerClient(server.url, server.tokens[who], retries=0)


def register(server: Any, **policy: Any) -> tuple[KeyServerClient, SlotInfo]:
    w = client(server, "writer")
    fields: dict[str, Any] = {
        "readers": ("clerk@city.example",),
        "label": "test export",
        "medium": "USB-TEST-1",
    }
    fields.update(policy)
    reg = w.register(Policy(**fields))
    return w, SlotInfo(server.url, reg.container_id, reg.public_key)


def sealed(server: Any, tmp_path: Path, password: str = "pw", **policy: Any) -> tuple[Path, bytes]:
    src = tmp_path / "register.csv"
    src.write_text("id,name\n1,Tanaka\n")
    w, slot = register(server, **policy)
    out = tmp_path / "c.rwc"
    res = seal_paths([src], out, slot=slot, key_server=w, password=password, argon2=FAST)
    w.commit(res.container_id, res.header_digest, res.receipt_key)
    return out, res.container_id


def evaluate_once(server: Any, who: str, cid: bytes) -> Any:
    """One raw evaluation of a fresh blinded element (no container file needed)."""
    _, blinded = oprf.blind(b"probe")
    return client(server, who).evaluate(SlotInfo(server.url, cid, bytes(32)), blinded)


def test_register_evaluate_commit_open_receipt(server: Any, tmp_path: Path) -> None:
    out, cid = sealed(server, tmp_path)
    reader = client(server, "reader")
    with open_container(out, key_server=reader, password="pw") as c:
        assert [e.path for e in c.entries()] == ["register.csv"]
        assert c.evaluation.challenge is not None and len(c.evaluation.challenge) == 32
        reader.receipt(cid, c.evaluation.challenge, c.receipt_mac())
        # A challenge is single-use: a replayed receipt is refused.
        with pytest.raises(KeyServerCallError):
            reader.receipt(cid, c.evaluation.challenge, c.receipt_mac())
    who = reader.whoami()
    assert who.name == "clerk@city.example" and "reader" in who.roles


def test_group_reader_allowed(server: Any, tmp_path: Path) -> None:
    out, _ = sealed(server, tmp_path, readers=(), reader_groups=("benefits",))
    with open_container(out, key_server=client(server, "group_reader"), password="pw") as c:
        assert len(c.entries()) == 1


def test_wrong_password_is_wrong_password(server: Any, tmp_path: Path) -> None:
    out, _ = sealed(server, tmp_path)
    with pytest.raises(WrongPasswordError):
        open_container(out, key_server=client(server, "reader"), password="nope")


def test_reader_not_on_policy_denied(server: Any, tmp_path: Path) -> None:
    _, cid = sealed(server, tmp_path)
    with pytest.raises(KeyServerDeniedError) as info:
        evaluate_once(server, "outsider", cid)
    assert info.value.contact == server.contact


def test_bad_token_denied(server: Any, tmp_path: Path) -> None:
    _, cid = sealed(server, tmp_path)
    bad = KeyServerClient(server.url, "rwc_" + "x" * 43, retries=0)
    with pytest.raises(KeyServerDeniedError) as info:
        bad.evaluate(SlotInfo(server.url, cid, bytes(32)), oprf.blind(b"x")[1])
    assert info.value.hint is not None and "rwc login" in info.value.hint
    with pytest.raises(KeyServerDeniedError):
        bad.whoami()


def test_reader_cannot_register(server: Any) -> None:
    with pytest.raises(KeyServerDeniedError):
        client(server, "reader").register(
            Policy(readers=("clerk@city.example",), label="x", medium="m")
        )


def test_suspended(server: Any, tmp_path: Path) -> None:
    _, cid = sealed(server, tmp_path)
    server.official(
        f"/v1/containers/{b64url_encode(cid)}/suspend",
        {"reason": "internal: audit", "public_reason": "under review"},
    )
    with pytest.raises(KeyServerSuspendedError) as info:
        evaluate_once(server, "reader", cid)
    assert "under review" in str(info.value)
    assert info.value.contact == server.contact


def test_destroyed_is_revoked_with_date_reason_contact(server: Any, tmp_path: Path) -> None:
    out, cid = sealed(server, tmp_path)
    server.official(
        f"/v1/containers/{b64url_encode(cid)}/destroy",
        {"reason": "stick lost by courier (internal)", "public_reason": "medium lost"},
    )
    with pytest.raises(KeyServerRevokedError) as info:
        open_container(out, key_server=client(server, "reader"), password="pw")
    err = info.value
    assert err.reason == "medium lost"
    assert err.contact == server.contact
    assert err.revoked_at is not None
    assert dt.datetime.fromisoformat(err.revoked_at).year >= 2024
    assert "internal" not in str(err)  # the internal reason never reaches a reader
    assert err.revoked_at in str(err) and "medium lost" in str(err) and server.contact in str(err)


def test_expired_by_server_clock(server: Any, tmp_path: Path) -> None:
    not_after = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    _, cid = sealed(server, tmp_path, not_after=not_after)
    evaluate_once(server, "reader", cid)  # still valid now
    server.clock.offset = dt.timedelta(hours=2)
    with pytest.raises(KeyServerExpiredError) as info:
        evaluate_once(server, "reader", cid)
    assert info.value.contact == server.contact


def test_not_after_in_the_past_refused_at_register(server: Any) -> None:
    # spec/protocol.md §problems: a value the writer chose (`field`), not a version mismatch.
    with pytest.raises(KeyServerInvalidValueError) as info:
        register(server, not_after=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    assert info.value.field == "not_after"


def test_commit_twice_is_a_conflict(server: Any, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_text("x")
    w, slot = register(server)
    res = seal_paths([src], tmp_path / "c.rwc", slot=slot, key_server=w, password="", argon2=FAST)
    w.commit(res.container_id, res.header_digest, res.receipt_key)
    with pytest.raises(KeyServerCallError) as info:
        w.commit(res.container_id, res.header_digest, res.receipt_key)
    assert "conflict" in str(info.value)


def test_response_sizes_are_validated(server: Any) -> None:
    # A server answer whose element has the wrong length is a protocol error, not a key.
    from pycontainer.client.keyserver import b64url_decode  # noqa: PLC0415

    with pytest.raises(KeyServerProtocolError, match="33 bytes, expected 32"):
        b64url_decode(b64url_encode(bytes(33)), 32, "element")
    with pytest.raises(KeyServerProtocolError, match="non-canonical"):
        b64url_decode("AB", 1, "element")  # stray bits in the last character
    with pytest.raises(KeyServerProtocolError):
        b64url_decode("AA==", 1, "element")  # padding is refused


def test_server_answers_json_of_another_shape(server: Any) -> None:
    # /healthz is not /v1/whoami: a JSON object without "name" is a protocol error.
    c = KeyServerClient(server.url + "/healthz-prefix-does-not-exist", "rwc_" + "A" * 43)
    with pytest.raises(KeyServerCallError):
        c.whoami()
    r = requests.get(server.url + "/healthz", timeout=5)
    assert r.status_code == 200
