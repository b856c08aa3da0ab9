"""The transparency log over HTTP (spec §transparency): key, checkpoints, proofs, cosignatures.

The log's key, its checkpoints and consistency proofs need no token: they hold hashes
and signatures only, and witnesses and journalists must be able to fetch them. Inclusion
proofs return the entry itself, so they need a principal (officials and auditors: any
entry; others: their own). Notes are served as ``text/plain; charset=utf-8``, the way tlog
tools exchange C2SP checkpoints.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from keyserver._http.deps import ActorDep, ContextDep, ServiceDep
from keyserver._http.schemas import CosignatureBody

router = APIRouter(tags=["transparency"])
NOTE_TYPE = "text/plain; charset=utf-8"


@router.get(
    "/.well-known/rwc-log-key", response_class=PlainTextResponse, summary="The log's public key"
)
def well_known_log_key(service: ServiceDep) -> PlainTextResponse:
    """The log's signed-note verifier key, one line (no authentication)."""
    return PlainTextResponse(service.log_info()["log_key"] + "\n", media_type=NOTE_TYPE)


@router.get("/v1/tlog", summary="The log's origin, public key and witnesses")
def log_info(service: ServiceDep) -> dict[str, Any]:
    """Origin, log key, configured witness keys, cosignatures reports need (no auth)."""
    return service.log_info()


@router.get(
    "/v1/tlog/checkpoint", response_class=PlainTextResponse, summary="The newest checkpoint"
)
def latest_checkpoint(service: ServiceDep, min_cosignatures: int = 0) -> PlainTextResponse:
    """The newest checkpoint note (with at least ``min_cosignatures`` cosignatures)."""
    return PlainTextResponse(service.latest_checkpoint(min_cosignatures), media_type=NOTE_TYPE)


@router.post("/v1/tlog/checkpoint", summary="Make a checkpoint now")
def make_checkpoint(service: ServiceDep, actor: ActorDep, ctx: ContextDep) -> dict[str, Any]:
    """Hash new entries and sign a checkpoint now (official, auditor)."""
    return service.checkpoint(actor, ctx=ctx)


@router.get(
    "/v1/tlog/checkpoints/{size}",
    response_class=PlainTextResponse,
    summary="The checkpoint of one tree size",
)
def checkpoint_at(service: ServiceDep, size: int) -> PlainTextResponse:
    """A checkpoint note by tree size, with its cosignatures (no authentication)."""
    return PlainTextResponse(service.checkpoint_at(size), media_type=NOTE_TYPE)


@router.get("/v1/tlog/proof/consistency", summary="Consistency proof between two checkpoints")
def consistency(service: ServiceDep, old: int, new: int) -> dict[str, Any]:
    """RFC 9162 consistency proof from size ``old`` to ``new`` (no authentication)."""
    return service.consistency_proof(old, new)


@router.get("/v1/tlog/proof/inclusion", summary="Inclusion proof of an audit entry")
def inclusion(
    service: ServiceDep, actor: ActorDep, ctx: ContextDep, seq: int, size: int | None = None
) -> dict[str, Any]:
    """RFC 9162 inclusion proof of entry ``seq`` (officials, auditors; others: their own)."""
    return service.inclusion_proof(actor, seq, size, ctx=ctx)


@router.post("/v1/tlog/cosignatures", summary="Submit a witness cosignature")
def cosign(service: ServiceDep, body: CosignatureBody) -> dict[str, Any]:
    """Store the cosignatures of configured witnesses on one of this log's checkpoints."""
    return service.add_cosignature(body.checkpoint)


@router.get("/v1/media/{medium}/report/signed", summary="Signed medium report")
def signed_medium_report(
    service: ServiceDep, actor: ActorDep, ctx: ContextDep, medium: str
) -> dict[str, Any]:
    """The medium report as a signed, offline-verifiable document (official, auditor)."""
    return service.signed_report(actor, "medium-report", medium, ctx=ctx)


@router.get("/v1/media/{medium}/destruction-certificate", summary="Destruction certificate")
def destruction_certificate(
    service: ServiceDep, actor: ActorDep, ctx: ContextDep, medium: str
) -> dict[str, Any]:
    """Which containers of a medium were destroyed, when, by whom, why: signed."""
    return service.signed_report(actor, "destruction-certificate", medium, ctx=ctx)
