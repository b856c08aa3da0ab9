"""Request bodies (pydantic, strict types, unknown fields rejected).

spec §protocol: binary values are unpadded base64url strings, decoded strictly by
keyserver.domain.encoding.b64d in the routers.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterBody(_Body):
    """POST /v1/containers."""

    label: StrictStr = Field(max_length=200)
    medium: StrictStr | None = Field(default=None, max_length=200)
    readers: list[StrictStr] = Field(default_factory=list, max_length=1000)
    reader_groups: list[StrictStr] = Field(default_factory=list, max_length=1000)
    not_after: StrictStr | None = None
    password_required: StrictBool = True
    attempt_budget: StrictInt | None = None


class EvaluateBody(_Body):
    """POST /v1/containers/{id}/evaluate."""

    blinded_element: StrictStr = Field(max_length=64)
    # spec §evaluate: SHA-256 of the header as the reader read it; absent while sealing.
    header_digest: StrictStr | None = Field(default=None, max_length=64)


class CommitBody(_Body):
    """POST /v1/containers/{id}/commit."""

    header_digest: StrictStr = Field(max_length=64)
    receipt_key: StrictStr = Field(max_length=64)


class ReceiptBody(_Body):
    """POST /v1/containers/{id}/receipt."""

    challenge: StrictStr = Field(max_length=64)
    mac: StrictStr = Field(max_length=64)


class ChangeBody(_Body):
    """POST .../{suspend|restore|destroy}; ``cause``: restore only (spec §lifecycle)."""

    reason: StrictStr = Field(max_length=2000)
    public_reason: StrictStr | None = Field(default=None, max_length=2000)
    cause: StrictStr | None = Field(default=None, max_length=32)


class LossBody(_Body):
    """POST /v1/media/{medium}/loss-report."""

    reason: StrictStr = Field(max_length=2000)
    public_reason: StrictStr | None = Field(default=None, max_length=2000)
    now: StrictBool = False
    waiting_period_seconds: StrictInt | None = None
    lost_at: StrictStr | None = Field(default=None, max_length=64)
    # spec §loss: a medium reported again keeps the earlier report's earliest times
    # unless asked to replace them.
    replace_earlier: StrictBool = False


class PrincipalBody(_Body):
    """POST /v1/principals."""

    name: StrictStr = Field(max_length=64)
    roles: list[StrictStr] = Field(max_length=5)
    organisation: StrictStr | None = Field(default=None, max_length=200)
    groups: list[StrictStr] = Field(default_factory=list, max_length=100)


class TokenBody(_Body):
    """POST /v1/principals/{name}/tokens."""

    expires_at: StrictStr | None = None


class CosignatureBody(_Body):
    """POST /v1/tlog/cosignatures: a checkpoint note carrying a witness's cosignature."""

    checkpoint: StrictStr = Field(min_length=1, max_length=64 * 1024)
