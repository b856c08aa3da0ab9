"""The transparency log on a running server (spec §transparency), SQLite and PostgreSQL.

Roots and proofs are checked against a tree the test builds itself from the exported
audit log (canonical encoding of each entry), not through the server's tree code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from keyserver._cli.tlog import create_log_key
from keyserver._domain.lifecycle import ROLES, Actor
from keyserver._domain.settings import Settings
from keyserver._domain.transparency import merkle
from keyserver._domain.transparency.checkpoint import Checkpoint
from keyserver._domain.transparency.cosignature import cosign
from keyserver._domain.transparency.note import COSIGNATURE_V1, SignerKey, VerifierKey, parse_note
from keyserver._service import KeyService
from keyserver._store import tlog
from keyserver.testing import running_server
from tests.support.world import World, activate, make_world, oprf

WITNESS = SignerKey.generate("prefecture.example/witness", COSIGNATURE_V1)
STRANGER = SignerKey.generate("stranger.example/witness", COSIGNATURE_V1)


@pytest.fixture
def tlog_settings(settings: Settings, tmp_path: Path) -> Settings:
    path = tmp_path / "log.key"
    create_log_key(path, "city.example/rwc")
    return settings.replace(
        log_key_file=path,
        checkpoint_interval=timedelta(0),
        witness_keys=WITNESS.verifier().encode(),
    )


@pytest.fixture
def tw(tlog_settings: Settings) -> Iterator[World]:
    with running_server(tlog_settings) as url:
        w = make_world(tlog_settings, url)
        yield w
        w.close()


def _mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < len(d):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _exported_leaves(w: World) -> list[bytes]:
    resp = w.call("auditor", "GET", "/v1/audit/export")
    assert resp.status_code == 200
    leaves = []
    for line in resp.text.splitlines():
        doc = json.loads(line)
        del doc["prev_hash"], doc["hash"]
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        leaves.append(canonical.encode())
    return leaves


def _log_key(w: World) -> VerifierKey:
    resp = w.call(None, "GET", "/.well-known/rwc-log-key")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    key = VerifierKey.parse(resp.text)
    assert key.name == "city.example/rwc"
    info = w.call(None, "GET", "/v1/tlog").json()
    assert info["log_key"] == key.encode()
    assert info["witness_keys"] == [WITNESS.verifier().encode()]
    return key


def _checkpoint(w: World) -> tuple[Checkpoint, str]:
    made = w.call("official", "POST", "/v1/tlog/checkpoint")
    assert made.status_code == 200, made.text
    resp = w.call(None, "GET", "/v1/tlog/checkpoint")
    assert resp.status_code == 200
    assert resp.text == made.json()["checkpoint"]
    note = parse_note(resp.content)
    _log_key(w).verify_note(note)
    return Checkpoint.parse(note.text), resp.text


def test_checkpoint_covers_every_entry(tw: World) -> None:
    reg, _ = activate(tw)
    oprf(tw, "reader", reg["container_id"], reg["public_key"])
    cp, _ = _checkpoint(tw)
    leaves = _exported_leaves(tw)
    head = tw.call("auditor", "GET", "/v1/audit/verify").json()["head_seq"]
    # The checkpoint covers the whole log as it was; exporting added nothing (reads are
    # not audited), so the independent tree of the export has the same root.
    assert cp.size == len(leaves) == head
    assert cp.root_hash == _mth(leaves)


def test_proofs(tw: World) -> None:
    reg, _ = activate(tw)
    first, _ = _checkpoint(tw)
    oprf(tw, "reader", reg["container_id"], reg["public_key"])
    second, _ = _checkpoint(tw)
    assert second.size > first.size
    leaves = _exported_leaves(tw)[: second.size]
    # Consistency, without a token, verified here against the two signed roots.
    resp = tw.call(
        None, "GET", "/v1/tlog/proof/consistency", params={"old": first.size, "new": second.size}
    )
    assert resp.status_code == 200, resp.text
    proof = [bytes.fromhex(h) for h in resp.json()["proof"]]
    merkle.verify_consistency(first.size, second.size, first.root_hash, second.root_hash, proof)
    # The reader's own release: its inclusion proof, and its entry.
    seq = second.size  # the evaluate entry is the newest
    own = json.loads(leaves[seq - 1])
    assert (own["actor"], own["action"]) == ("reader", "evaluate")
    resp = tw.call("reader", "GET", "/v1/tlog/proof/inclusion", params={"seq": seq})
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["entry"].encode() == leaves[seq - 1]
    assert doc["tree_size"] == second.size
    merkle.verify_inclusion(
        hashlib.sha256(b"\x00" + leaves[seq - 1]).digest(),
        seq - 1,
        second.size,
        [bytes.fromhex(h) for h in doc["proof"]],
        second.root_hash,
    )
    # Another reader may not see that entry; an auditor may see any; no token: 401.
    assert (
        tw.call("outsider", "GET", "/v1/tlog/proof/inclusion", params={"seq": seq})
        .json()["type"]
        .endswith(":not-allowed")
    )
    resp = tw.call("auditor", "GET", "/v1/tlog/proof/inclusion", params={"seq": 1})
    assert resp.status_code == 200
    assert tw.call(None, "GET", "/v1/tlog/proof/inclusion", params={"seq": 1}).status_code == 401
    # The refusal was audited.
    listed = tw.call("auditor", "GET", "/v1/audit", params={"action": "tlog.proof"}).json()
    assert [e["actor"] for e in listed["entries"]] == ["outsider"]


def test_cosignatures(tw: World) -> None:
    activate(tw)
    cp, note_text = _checkpoint(tw)
    body = cp.body()
    note = parse_note(note_text.encode())
    cosigned = note.with_signatures(cosign(WITNESS, body, 1796371200)).encode().decode()
    resp = tw.call(None, "POST", "/v1/tlog/cosignatures", json={"checkpoint": cosigned})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"size": cp.size, "accepted": ["prefecture.example/witness"]}
    # Served with the checkpoint, also when asking for a cosigned one.
    served = tw.call(None, "GET", "/v1/tlog/checkpoint", params={"min_cosignatures": 1})
    assert served.text == cosigned
    assert tw.call(None, "GET", f"/v1/tlog/checkpoints/{cp.size}").text == cosigned
    # A stranger's cosignature, a moved one and a checkpoint this log never signed: refused.
    stranger = note.with_signatures(cosign(STRANGER, body, 1796371200)).encode().decode()
    forged_body = Checkpoint(cp.origin, cp.size, bytes(32)).body()
    forged = (forged_body + "\n" + cosign(WITNESS, forged_body, 1).line()).encode().decode()
    moved = (body + "\n" + cosign(WITNESS, forged_body, 1).line()).encode().decode()
    for bad in (stranger, forged, moved, "not a note"):
        resp = tw.call(None, "POST", "/v1/tlog/cosignatures", json={"checkpoint": bad})
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["type"].endswith(":invalid-request")


def test_follower_refuses_an_entry_that_does_not_verify(tw: World) -> None:
    activate(tw)
    cp, _ = _checkpoint(tw)
    activate(tw)
    # Someone without the master key edits an entry after the checkpoint.
    engine = create_engine(tw.settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET outcome = 'refused' WHERE seq = :s"), {"s": cp.size + 2}
        )
    engine.dispose()
    resp = tw.call("official", "POST", "/v1/tlog/checkpoint")
    assert resp.status_code == 500
    # Nothing was signed past the damage; the last checkpoint is still the newest.
    latest = parse_note(tw.call(None, "GET", "/v1/tlog/checkpoint").content)
    assert Checkpoint.parse(latest.text).size == cp.size


def test_details_stored_in_another_json_form_still_verify(tw: World) -> None:
    """Readers use the stored details text when its MAC verifies (audit_verify), and fall
    back to re-encoding it: an equivalent JSON form (spacing, key order) still verifies
    and the leaf is still the canonical encoding, as the spec defines it."""
    activate(tw)
    engine = create_engine(tw.settings.database_url)
    with engine.begin() as conn:
        seq, details = conn.execute(
            text("SELECT seq, details FROM audit_log WHERE details <> '{}' ORDER BY seq LIMIT 1")
        ).one()
        parsed = json.loads(details)
        assert len(parsed) > 1  # so that reversing the keys changes the text
        other = json.dumps(dict(reversed(list(parsed.items()))), indent=1, ensure_ascii=True)
        assert other != details
        conn.execute(
            text("UPDATE audit_log SET details = :d WHERE seq = :s"), {"d": other, "s": seq}
        )
    engine.dispose()
    assert tw.call("auditor", "GET", "/v1/audit/verify").json()["ok"] is True
    cp, _ = _checkpoint(tw)
    leaves = _exported_leaves(tw)
    assert cp.size == len(leaves) and cp.root_hash == _mth(leaves)


def test_no_log_key(world: World) -> None:
    resp = world.call(None, "GET", "/v1/tlog/checkpoint")
    assert resp.status_code == 404
    assert "log key" in resp.json()["detail"]
    # A witness or auditor's tool that asks in Japanese reads it from the catalogue.
    ja = world.call(None, "GET", "/v1/tlog/checkpoint", headers={"Accept-Language": "ja"})
    assert ja.status_code == 404
    assert "透明性ログを持っていません" in ja.json()["detail"], ja.text
    assert "log key" not in ja.json()["detail"], ja.text


def test_catching_up_in_short_transactions(
    tlog_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = KeyService(tlog_settings)
    try:
        actor = Actor(name="op", roles=ROLES, local=True)
        for i in range(8):
            service.add_principal(actor, f"p{i}", ["reader"], None, [])
        monkeypatch.setattr(tlog, "EXTEND_BATCH", 3)
        doc = service.checkpoint()
        assert doc["size"] == 8  # three transactions of at most 3 entries, one checkpoint
        note = parse_note(service.latest_checkpoint().encode())
        assert Checkpoint.parse(note.text).size == 8
    finally:
        service.close()


def test_bad_sizes_are_invalid_requests(tw: World, subtests: pytest.Subtests) -> None:
    _checkpoint(tw)
    for method, path, params in [
        ("GET", "/v1/tlog/checkpoints/99999999999999999999", {}),
        ("GET", "/v1/tlog/proof/consistency", {"old": 3, "new": 2}),
        ("GET", "/v1/tlog/proof/consistency", {"old": "x", "new": 2}),
        ("GET", "/v1/tlog/proof/inclusion", {"seq": 0}),
        ("GET", "/v1/tlog/proof/inclusion", {"seq": 2**63}),
    ]:
        with subtests.test(msg=f"{method} {path} {params}"):
            resp = tw.call("auditor", method, path, params=params)
            assert resp.status_code == 400, (path, params, resp.text)
            assert resp.json()["type"].endswith(":invalid-request")
    resp = tw.call(None, "GET", "/v1/tlog/checkpoints/123456")
    assert resp.status_code == 404
    ja = tw.call(
        "auditor", "GET", "/v1/tlog/proof/consistency", params={"old": 3, "new": 2},
        headers={"Accept-Language": "ja"},
    )  # fmt: skip
    assert ja.status_code == 400 and "0 <= old <= new となるように" in ja.json()["detail"], ja.text
    # Past 2^31 is a size like any other (64-bit columns): not signed yet, not malformed.
    resp = tw.call("auditor", "GET", "/v1/tlog/proof/inclusion", params={"seq": 2**40})
    assert resp.status_code == 404, resp.text


def test_transparency_settings_load_from_the_environment(tmp_path: Path) -> None:
    env = {
        "KEYSERVER_DATABASE_URL": f"sqlite:///{tmp_path}/k.store",
        "KEYSERVER_MASTER_KEY": "A" * 43,
        "KEYSERVER_LOG_KEY_FILE": str(tmp_path / "log.key"),
        "KEYSERVER_CHECKPOINT_INTERVAL": "30s",
        "KEYSERVER_WITNESS_KEYS": WITNESS.verifier().encode(),
        "KEYSERVER_REPORT_MIN_COSIGNATURES": "2",
    }
    s = Settings.load(env=env)
    assert s.log_key_file == tmp_path / "log.key"
    assert s.checkpoint_interval == timedelta(seconds=30)
    assert s.witness_keys == WITNESS.verifier().encode()
    assert s.report_min_cosignatures == 2
