"""One queued evaluation request, as the release batch receives it (spec §evaluate).

What can be done with a request before it queues is done here, on the caller's thread:
the Authorization header checked and the token hashed, the container id and the blinded
element decoded. Nothing here touches the database or decides a release
(keyserver/_release/batch.py does, in order, under the chain-head lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keyserver._domain import auth, keys
from keyserver._domain.context import RequestContext
from keyserver._domain.errors import InvalidRequestError, UnauthenticatedError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import Actor
from keyserver._domain.validation import decode_container_id


@dataclass(frozen=True)
class EvalJob:
    """One queued evaluation request (see :meth:`~keyserver._release.batch.Releaser.evaluate`).

    Either ``actor`` is set (the caller authenticated it), or the batch authenticates
    the request from ``digest`` and audits a refusal in its transaction (``auth_error``
    when the header was already unusable). ``input_error`` is answered only after that, so a
    malformed request cannot skip the audited authentication refusal (spec §evaluate).
    """

    cid_text: str
    ctx: RequestContext
    actor: Actor | None = None
    digest: bytes | None = None
    auth_error: UnauthenticatedError | None = None
    cid: bytes = b""
    blinded: Any = None
    input_error: InvalidRequestError | None = None
    header_digest: bytes | None = None


def parse_inputs(cid_text: str, blinded_element: bytes) -> tuple[bytes, Any]:
    """Decode the container id and the blinded element (spec §evaluate).

    Raises:
        InvalidRequestError: Malformed id, or not a canonical non-identity element.
    """
    cid = decode_container_id(cid_text)
    try:
        return cid, keys.parse_blinded(blinded_element)
    except ValueError as exc:
        # spec §evaluate: the identity and non-canonical encodings are refused.
        raise InvalidRequestError(
            N_("blinded_element is not a valid ristretto255 element")
        ) from exc


def bearer_job(
    authorization: str | None,
    cid_text: str,
    blinded_element: bytes,
    ctx: RequestContext,
    header_digest: bytes | None = None,
) -> EvalJob:
    """A job the batch authenticates (header checked and token hashed here, on arrival)."""
    digest: bytes | None = None
    auth_error: UnauthenticatedError | None = None
    try:
        digest = auth.token_digest(auth.bearer_token(authorization))
    except UnauthenticatedError as exc:
        auth_error = exc
    try:
        cid, blinded = parse_inputs(cid_text, blinded_element)
    except InvalidRequestError as exc:
        return EvalJob(cid_text, ctx, digest=digest, auth_error=auth_error, input_error=exc)
    return EvalJob(
        cid_text,
        ctx,
        digest=digest,
        auth_error=auth_error,
        cid=cid,
        blinded=blinded,
        header_digest=header_digest,
    )
