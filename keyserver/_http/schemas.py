"""Request bodies (pydantic, strict types, unknown fields rejected).

spec §protocol: binary values are unpadded base64url strings, decoded strictly by
keyserver._domain.encoding.b64d in the routers.
"""

from __future__ import annotations

from typing import Any

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
    # spec §endpoints: how many people's personal data it holds, as the writer declared.
    people: StrictInt | None = None


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


class ResetBudgetBody(_Body):
    """POST /v1/containers/{id}/reset-budget (spec §receipt)."""

    reason: StrictStr = Field(max_length=2000)


class LossBody(_Body):
    """POST /v1/media/{medium}/loss-report."""

    reason: StrictStr = Field(max_length=2000)
    public_reason: StrictStr | None = Field(default=None, max_length=2000)
    now: StrictBool = False
    waiting_period_seconds: StrictInt | None = None
    lost_at: StrictStr | None = Field(default=None, max_length=64)
    # spec §loss: the time the official was told, when lost_at is earlier to count the
    # key releases just before it.
    told_at: StrictStr | None = Field(default=None, max_length=64)
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


class RejectBody(_Body):
    """POST /v1/approvals/{id}/reject: why (audited, shown to the requester)."""

    reason: StrictStr = Field(max_length=2000)


# -- typed responses of /v1/approvals (spec §approvals) ------------------------------------


class ApprovalView(BaseModel):
    """One request for an irreversible action awaiting a second principal."""

    id: int
    rule: str = Field(description="destroy-container | destroy-medium | destroy-issuer | ...")
    action: str = Field(description="destroy | loss-report | principal.add | token.issue")
    scope: str | None = Field(description="container | medium | issuer (destroys)")
    target: str = Field(description="container id, medium, issuer or principal name")
    params: dict[str, Any] = Field(description="the action's arguments (reasons, roles ...)")
    affects: dict[str, Any] = Field(
        description="what it affects: count, labels, container_ids (+ sha256); or principal"
    )
    state: str = Field(description="pending | approved | rejected | expired")
    approver_role: str
    requested_by: str
    requested_at: str
    expires_at: str
    decided_by: str | None
    decided_at: str | None
    decision_reason: str | None
    request_seq: int
    decision_seq: int | None


class ApprovalRequested(BaseModel):
    """202 answer of a gated action: it was NOT carried out; a request was made."""

    approval_required: bool = True
    approval: ApprovalView
    loss_report: dict[str, Any] | None = Field(
        default=None,
        description="a loss report asking for an early destroy: what was done at once "
        "(everything suspended or locked, the default waiting period)",
    )


class ApprovalList(BaseModel):
    """GET /v1/approvals."""

    approvals: list[ApprovalView]
    next: int | None


class ApprovalApproved(BaseModel):
    """POST /v1/approvals/{id}/approve: the request, and the action's own answer."""

    approval: ApprovalView
    result: dict[str, Any]


class ApprovalRejected(BaseModel):
    """POST /v1/approvals/{id}/reject."""

    approval: ApprovalView
