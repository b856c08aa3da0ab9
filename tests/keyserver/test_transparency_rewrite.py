"""The point of issue 13: whoever holds the master key can rewrite the audit chain so that
`audit verify` still says ok, but an outside witness and the reports issued before notice.

Everything real: the server over a socket, SQLite and PostgreSQL, the `keyserver witness`
and `keyserver verify-report` commands (in process), the cryptography.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from keyserver._cli.main import main
from keyserver._cli.tlog import create_log_key
from keyserver._domain.keys import KeyRing
from keyserver._domain.settings import Settings
from keyserver._domain.transparency.note import SignerKey
from keyserver._store.audit import HEAD_ID, entry_hash
from keyserver._store.engine import make_engine
from keyserver._store.models import (
    AuditEntry,
    AuditHead,
    TlogCheckpoint,
    TlogCosignature,
    TlogState,
    TlogTile,
)
from keyserver.testing import running_server
from tests.support.world import World, activate, make_world, oprf


@dataclass
class Run:
    code: int
    out: str
    err: str


def cli(*argv: str | Path) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err, env={})
    return Run(code, out.getvalue(), err.getvalue())


@dataclass
class Scene:
    w: World
    witness_dir: Path
    witness_key: str
    log_key: str
    tmp: Path

    def witness(self) -> Run:
        return cli("witness", "run", "--state-dir", self.witness_dir)

    def verify(self, report: Path, *extra: str | Path) -> Run:
        return cli(
            "verify-report", report, "--log-key", self.log_key,
            "--witness-key", self.witness_key, *extra,
        )  # fmt: skip

    def checkpoint(self) -> None:
        resp = self.w.call("official", "POST", "/v1/tlog/checkpoint")
        assert resp.status_code == 200, resp.text

    def report(self, name: str, kind: str = "report/signed") -> Path:
        resp = self.w.call("official", "GET", f"/v1/media/usb-0001/{kind}")
        assert resp.status_code == 200, resp.text
        path = self.tmp / name
        path.write_text(json.dumps(resp.json()), encoding="utf-8")
        return path


@contextmanager
def _scene(settings: Settings, tmp_path: Path) -> Iterator[Scene]:
    witness_dir = tmp_path / "witness"
    made = cli("witness", "init", "--state-dir", witness_dir, "--name", "pref.example/witness")
    assert made.code == 0, made.err
    assert (witness_dir / "witness.key").stat().st_mode & 0o777 == 0o600
    witness_key = made.out.strip()
    create_log_key(tmp_path / "log.key", "city.example/rwc")
    s = settings.replace(
        log_key_file=tmp_path / "log.key",
        checkpoint_interval=timedelta(0),
        witness_keys=witness_key,
    )
    with running_server(s) as url:
        w = make_world(s, url)
        log_key = w.call(None, "GET", "/.well-known/rwc-log-key").text.strip()
        added = cli(
            "witness", "add-log", "--state-dir", witness_dir, "--url", url, "--log-key", log_key
        )
        assert added.code == 0, added.err
        yield Scene(w, witness_dir, witness_key, log_key, tmp_path)
        w.close()


@pytest.fixture
def scene(settings: Settings, tmp_path: Path) -> Iterator[Scene]:
    with _scene(settings, tmp_path) as sc:
        yield sc


_SECOND_OFFICIAL = {"name": "suzuki", "roles": ["official"]}


def _released(sc: Scene) -> int:
    """A container on usb-0001, opened once by the reader; returns that release's seq."""
    reg, _ = activate(sc.w)
    oprf(sc.w, "reader", reg["container_id"], reg["public_key"])
    entries = sc.w.call("auditor", "GET", "/v1/audit", params={"action": "evaluate"}).json()
    (release,) = [e for e in entries["entries"] if e["actor"] == "reader"]
    assert release["outcome"] == "ok"
    return int(release["seq"])


def _rewrite(settings: Settings, seq: int, *, rebuild_tree: bool) -> None:
    """What an operator (or intruder) with the database AND the master key can do: turn a
    release into a refusal, recompute every HMAC after it and the head, and (thorough) drop
    and let the server rebuild the transparency tree and its checkpoints."""
    audit_key = KeyRing.from_master(settings.load_master_key()).audit_key
    engine = make_engine(settings)
    with Session(engine) as session, session.begin():
        entries = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        prev = entries[seq - 2].hash if seq > 1 else b"\0" * 32
        for e in entries[seq - 1 :]:
            if e.seq == seq:
                e.outcome = "refused"
                e.details = json.dumps({"reason": "not-allowed"}, separators=(",", ":"))
            e.prev_hash = prev
            e.hash = entry_hash(audit_key, prev, e)
            prev = e.hash
        session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(hash=prev))
        if rebuild_tree:
            for table in (TlogCosignature, TlogCheckpoint, TlogTile):
                session.query(table).delete()
            session.execute(update(TlogState).values(size=0))
    engine.dispose()


def test_rewritten_history_is_refused_by_the_witness_and_the_reports(
    scene: Scene, settings: Settings
) -> None:
    sc = scene
    release = _released(sc)
    sc.checkpoint()
    ran = sc.witness()
    assert ran.code == 0, ran.err
    assert "cosigned city.example/rwc" in ran.out
    before = sc.report("before.json")
    ok = sc.verify(before)
    assert ok.code == 0, ok.err
    assert "OK: medium-report" in ok.out
    assert release in json.loads(before.read_text())["body"]["statement"]["entries"]

    _rewrite(settings, release, rebuild_tree=True)
    # The HMAC chain, recomputed with the master key, verifies.
    verified = sc.w.call("auditor", "GET", "/v1/audit/verify").json()
    assert verified["ok"] is True
    entry = sc.w.call("auditor", "GET", "/v1/audit", params={"after_seq": release - 1}).json()
    assert entry["entries"][0]["outcome"] == "refused"
    # The server signs a new checkpoint over the rewritten history (it holds the log key).
    sc.checkpoint()
    # The witness refuses it: not an extension of what it cosigned.
    ran = sc.witness()
    assert ran.code == 1
    assert "REFUSED to cosign city.example/rwc" in ran.err
    assert "not consistent" in ran.err
    assert list((sc.witness_dir / "refused").iterdir())
    # The report issued before the rewrite no longer agrees with the log.
    checked = sc.verify(before, "--check-server", sc.w.url)
    assert checked.code == 1
    assert "TAMPERED" in checked.err
    assert "history rewritten" in checked.err
    # And no new report can be issued with a witnessed checkpoint.
    resp = sc.w.call("official", "GET", "/v1/media/usb-0001/report/signed")
    assert resp.status_code == 409, resp.text


def test_a_lazy_rewrite_breaks_the_proof_of_the_rewritten_entry(
    scene: Scene, settings: Settings
) -> None:
    sc = scene
    release = _released(sc)
    sc.checkpoint()
    assert sc.witness().code == 0
    _rewrite(settings, release, rebuild_tree=False)
    assert sc.w.call("auditor", "GET", "/v1/audit/verify").json()["ok"] is True
    # The tree still holds the original entry: a report citing the rewritten one fails.
    sc.checkpoint()
    assert sc.witness().code == 0
    after = sc.report("after.json")
    failed = sc.verify(after)
    assert failed.code == 1
    assert "TAMPERED" in failed.err
    assert f"audit entry {release} is not in the checkpoint" in failed.err


def test_reports_verify_offline_and_fail_distinctly(settings: Settings, tmp_path: Path) -> None:
    with _scene(settings, tmp_path) as sc:
        _released(sc)
        destroyed = sc.w.call(
            "official",
            "POST",
            "/v1/media/usb-0001/destroy",
            json={"reason": "stick lost on a train", "public_reason": "medium lost"},
        )
        # spec §approvals: a bulk destroy is carried out when a second official approves.
        assert destroyed.status_code == 202, destroyed.text
        second = sc.w.call("admin", "POST", "/v1/principals", json=_SECOND_OFFICIAL)
        assert second.status_code == 201, second.text
        sc.w.tokens["suzuki"] = second.json()["token"]
        number = destroyed.json()["approval"]["id"]
        approved = sc.w.call("suzuki", "POST", f"/v1/approvals/{number}/approve")
        assert approved.status_code == 200, approved.text
        sc.checkpoint()
        assert sc.witness().code == 0
        report = sc.report("report.json")
        cert = sc.report("cert.json", "destruction-certificate")
    doc = json.loads(cert.read_text())
    (gone,) = doc["body"]["statement"]["containers"]
    assert (gone["destroyed_by"], gone["reason"]) == ("suzuki", "stick lost on a train")
    # The cited destroy entry names the official who asked for it, too.
    (cited,) = [e for e in doc["body"]["evidence"] if e["seq"] == gone["seq"]]
    assert json.loads(cited["entry"])["details"]["requested_by"] == "official"
    # The server is gone: from here on, the keys and the files only.
    for path in (report, cert):
        ok = sc.verify(path)
        assert ok.code == 0, ok.err
    tampered = json.loads(report.read_text())
    tampered["body"]["statement"]["containers"][0]["opened_after_loss"] = False
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    run = sc.verify(tmp_path / "tampered.json")
    assert run.code == 1
    assert "error: TAMPERED:" in run.err
    # Japanese too, with KEYSERVER_LANG=ja: tests/keyserver_cli/test_verify_report_text.py.
    assert "hint: do not rely on this report" in run.err
    other = cli("witness", "init", "--state-dir", tmp_path / "w2", "--name", "other.example/w")
    run = cli(
        "verify-report", report, "--log-key",
        "city.example/rwc+00000000+AZpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    )  # fmt: skip
    assert run.code == 2  # a key whose ID does not match: a usage error, not a verdict
    stranger = SignerKey.generate("city.example/rwc").verifier().encode()
    run = cli("verify-report", report, "--log-key", stranger, "--witness-key", sc.witness_key)
    assert run.code == 1
    assert "WRONG KEY" in run.err
    run = cli("verify-report", report, "--log-key", sc.log_key, "--witness-key", other.out.strip())
    assert run.code == 1
    assert "NOT ENOUGH WITNESSES" in run.err
    assert "has 0 valid witness cosignatures of the keys given, 1 required" in run.err
    run = sc.verify(report, "--min-cosignatures", "2")
    assert "NOT ENOUGH WITNESSES" in run.err
    # Each count in its own form (was "cosignature(s)").
    assert "has 1 valid witness cosignature of the keys given, 2 required" in run.err
