r"""Signed incident documents that anyone can verify offline (spec §transparency "Reports").

A report is one JSON object::

    {"format": "rwc-report/v1",
     "body": {"kind", "issued_at", "statement", "checkpoint", "evidence": [{seq, entry, proof}]},
     "signature": {"key_name", "key_id", "signature"}}

``signature`` is the log key's Ed25519 signature over ``"rwc/v1 report\n" ||
canonical_json(body)``. ``checkpoint`` is a checkpoint note with its witness
cosignatures; each evidence item is an audit entry (its canonical encoding, i.e. the
leaf) with its inclusion proof in that checkpoint. The statement names the entries it
rests on (``statement["entries"]``), and every one of them must be in the evidence.

Verification needs the log's public key and the witnesses' public keys, nothing else:
no server, no database, no master key. A history rewritten after the report was issued
cannot change what the report proves; checked against the log as it is now (the
consistency of the report's checkpoint with a newer one, :func:`check_extends`), such a
rewrite shows as a fork.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from keyserver._domain.i18n import N_, ngettext
from keyserver._domain.transparency import (
    BadSignatureError,
    ProofError,
    TlogFormatError,
    TransparencyError,
    UnknownKeyError,
)
from keyserver._domain.transparency.checkpoint import Checkpoint
from keyserver._domain.transparency.cosignature import verify_cosignature
from keyserver._domain.transparency.merkle import leaf_hash, verify_consistency, verify_inclusion
from keyserver._domain.transparency.note import SignerKey, VerifierKey, parse_note

FORMAT = "rwc-report/v1"
SIGNED_PREFIX = b"rwc/v1 report\n"
KINDS = frozenset({"medium-report", "destruction-certificate"})


class ReportTamperedError(TransparencyError):
    """The report, its checkpoint or one of its proofs was altered after signing."""


class ReportWrongKeyError(TransparencyError):
    """The report (or its checkpoint) is not signed by the log key the verifier trusts."""


class NotEnoughCosignaturesError(TransparencyError):
    """The report's checkpoint carries fewer valid witness cosignatures than required."""


def canonical(value: Any) -> bytes:
    """The canonical JSON of §audit (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Evidence:
    """One audit entry a statement rests on, with its inclusion proof."""

    seq: int
    entry: str
    proof: Sequence[bytes]

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"seq": self.seq, "entry": self.entry, "proof": [p.hex() for p in self.proof]}


def sign_report(  # noqa: PLR0917 - the parts of one report
    key: SignerKey,
    kind: str,
    issued_at: str,
    statement: dict[str, Any],
    checkpoint: str,
    evidence: Sequence[Evidence],
) -> dict[str, Any]:
    """Assemble and sign a report (the server's side)."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r}")
    body = {
        "kind": kind,
        "issued_at": issued_at,
        "statement": statement,
        "checkpoint": checkpoint,
        "evidence": [e.as_dict() for e in evidence],
    }
    sig = key.sign_raw(SIGNED_PREFIX + canonical(body))
    return {
        "format": FORMAT,
        "body": body,
        "signature": {
            "key_name": key.name,
            "key_id": key.verifier().key_id.hex(),
            "signature": base64.b64encode(sig).decode("ascii"),
        },
    }


@dataclass(frozen=True)
class VerifiedReport:
    """What a verified report proves."""

    kind: str
    issued_at: str
    statement: dict[str, Any]
    checkpoint: Checkpoint
    cosigned_by: tuple[str, ...]
    entries: tuple[dict[str, Any], ...]


def _field(doc: Any, name: str, kind: type) -> Any:
    if not isinstance(doc, dict) or not isinstance(doc.get(name), kind):
        raise TlogFormatError(N_("the report has no valid %(field)s", field=repr(name)))
    return doc[name]


def verify_report(
    data: bytes,
    log_key: VerifierKey,
    witness_keys: Sequence[VerifierKey] = (),
    min_cosignatures: int = 0,
) -> VerifiedReport:
    """Verify a report offline; raise a distinct error for each way it can fail.

    Raises:
        TlogFormatError: Not a report at all.
        ReportWrongKeyError: Signed by another key than ``log_key``.
        ReportTamperedError: Any signature or proof does not verify.
        NotEnoughCosignaturesError: Fewer than ``min_cosignatures`` witnesses cosigned.
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise TlogFormatError(N_("the file is not a JSON report")) from exc
    if _field(doc, "format", str) != FORMAT:
        raise TlogFormatError(N_("the file is not an %(format)s report", format=FORMAT))
    body = _field(doc, "body", dict)
    sig = _field(doc, "signature", dict)
    # Which key signed: compared before the signature, so "another key" is told apart
    # from "altered" (a wrong key would otherwise look like a broken signature).
    if (_field(sig, "key_name", str), _field(sig, "key_id", str)) != (
        log_key.name,
        log_key.key_id.hex(),
    ):
        raise ReportWrongKeyError(
            N_(
                "the report is signed by %(signer)s (%(signer_id)s), not by the log key "
                "%(log)s (%(log_id)s)",
                signer=sig["key_name"],
                signer_id=sig["key_id"],
                log=log_key.name,
                log_id=log_key.key_id.hex(),
            )
        )
    try:
        raw_sig = base64.b64decode(_field(sig, "signature", str), validate=True)
    except binascii.Error as exc:
        raise ReportTamperedError(N_("the report's signature is not base64")) from exc
    try:
        log_key.verify_raw(SIGNED_PREFIX + canonical(body), raw_sig)
    except BadSignatureError as exc:
        raise ReportTamperedError(N_("the report was altered after it was signed")) from exc
    return _verify_body(body, log_key, witness_keys, min_cosignatures)


def _verify_body(
    body: dict[str, Any],
    log_key: VerifierKey,
    witness_keys: Sequence[VerifierKey],
    min_cosignatures: int,
) -> VerifiedReport:
    kind = _field(body, "kind", str)
    statement = _field(body, "statement", dict)
    note = parse_note(_field(body, "checkpoint", str).encode("utf-8"))
    try:
        log_key.verify_note(note)
    except UnknownKeyError as exc:
        raise ReportWrongKeyError(
            N_("the report's checkpoint is not signed by the log key")
        ) from exc
    except BadSignatureError as exc:
        raise ReportTamperedError(N_("the report's checkpoint was altered")) from exc
    cp = Checkpoint.parse(note.text)
    cosigned = []
    for witness in witness_keys:
        try:
            verify_cosignature(witness, note)
        except UnknownKeyError:
            continue
        except BadSignatureError as exc:
            raise ReportTamperedError(
                N_("the cosignature of %(witness)s was altered", witness=witness.name)
            ) from exc
        cosigned.append(witness.name)
    if len(cosigned) < min_cosignatures:
        # A catalogue message, as every detail here: str(exc) is its English ("1 ...
        # cosignature", "2 ... cosignatures"), verify-report says it in the reader's language.
        raise NotEnoughCosignaturesError(
            ngettext(
                "the checkpoint has %(count)s valid witness cosignature of the keys given, "
                "%(required)s required",
                "the checkpoint has %(count)s valid witness cosignatures of the keys given, "
                "%(required)s required",
                len(cosigned),
                count=len(cosigned),
                required=min_cosignatures,
            )
        )
    entries = []
    seen = set()
    for item in _field(body, "evidence", list):
        seq = _field(item, "seq", int)
        entry = _field(item, "entry", str)
        try:
            proof = [bytes.fromhex(h) for h in _field(item, "proof", list)]
            verify_inclusion(
                leaf_hash(entry.encode("utf-8")), seq - 1, cp.size, proof, cp.root_hash
            )
            parsed = json.loads(entry)
        except (ValueError, TypeError, ProofError) as exc:
            raise ReportTamperedError(
                N_("audit entry %(seq)s is not in the checkpoint", seq=seq)
            ) from exc
        if not isinstance(parsed, dict) or parsed.get("seq") != seq:
            raise ReportTamperedError(
                N_("audit entry %(seq)s is not the entry the proof is for", seq=seq)
            )
        seen.add(seq)
        entries.append(parsed)
    cited = statement.get("entries", [])
    if not isinstance(cited, list) or not set(cited) <= seen:
        raise ReportTamperedError(N_("the statement cites audit entries without proof"))
    return VerifiedReport(
        kind,
        _field(body, "issued_at", str),
        statement,
        cp,
        tuple(cosigned),
        tuple(entries),
    )


def check_extends(report_cp: Checkpoint, newer: Checkpoint, proof: Sequence[bytes]) -> None:
    """The log as it is now (``newer``) still contains the report's checkpoint.

    Raises:
        ReportTamperedError: History was rewritten since the report (a fork).
    """
    try:
        verify_consistency(report_cp.size, newer.size, report_cp.root_hash, newer.root_hash, proof)
    except ProofError as exc:
        raise ReportTamperedError(
            N_(
                "the log now disagrees with this report: its checkpoint %(newer)s does not "
                "extend the report's checkpoint %(size)s (history rewritten): %(reason)s",
                newer=newer.size,
                size=report_cp.size,
                reason=str(exc),
            )
        ) from exc
