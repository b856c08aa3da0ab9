"""The RFC 9457 problem responses of every route, for the OpenAPI document.

spec/protocol.md §problems lists which refusal each endpoint can answer. FastAPI knows
only the success response and a 422 that this server never sends (validation failures are
``400 invalid-request``, keyserver/_http/problems.py). :func:`with_problems` completes the
document: a ``Problem`` schema, the refusals of each operation, and no 422. It only adds
responses an operation does not document itself, so routes that declare ``responses=``
keep theirs. ``spec/openapi.py`` writes the result to ``spec/openapi.json``, and
:func:`install` makes the app serve the very same document at ``/openapi.json``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from keyserver._domain.errors import PROBLEM_STATUS, PROBLEM_TYPE_PREFIX
from keyserver._http.schemas import EvaluateBody

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; clients dispatch on `type` (spec §problems).",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": f"{PROBLEM_TYPE_PREFIX}<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "contact": {"type": ["string", "null"], "description": "whom to contact"},
        "revoked_at": {"type": ["string", "null"], "description": "destroyed: when"},
        "reason": {"type": ["string", "null"], "description": "destroyed/suspended: public"},
        "cause": {
            "type": "string",
            "enum": ["budget"],
            "description": "suspended: the container's attempt budget suspended it "
            "(absent for any other cause)",
        },
        "suggestions": {
            "type": "array",
            "description": "not-found: the nearest existing names (did you mean ...?)",
            "items": {"type": "string"},
        },
        "not_after": {"type": ["string", "null"], "description": "expired: the limit"},
        "errors": {
            "type": "array",
            "description": "invalid-request: where and what (never the input)",
            "items": {"type": "object"},
        },
        "field": {
            "type": "string",
            "description": "invalid-request: the value a person chose that breaks its rule "
            "(medium, spec §media)",
        },
    },
    "additionalProperties": True,
}

# spec §problems: slug -> HTTP status (one table, in keyserver._domain.errors).
STATUS = PROBLEM_STATUS

_AUTH = ("unauthenticated", "forbidden", "invalid-request", "unavailable")
_BODY = ("payload-too-large", "unsupported-media-type")
_STATE = ("conflict", "destroyed", "not-found")

# (METHOD, path template) -> the refusals beyond the success response (spec §endpoints).
OPERATIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/healthz"): (),
    ("GET", "/readyz"): ("unavailable", "restore-pending"),
    ("GET", "/metrics"): ("unavailable",),
    ("GET", "/v1/whoami"): _AUTH,
    ("POST", "/v1/containers"): (*_AUTH, *_BODY),
    ("GET", "/v1/containers"): (*_AUTH, "not-found"),
    ("GET", "/v1/containers/{container_id}"): (*_AUTH, "not-allowed", "not-found"),
    ("POST", "/v1/containers/{container_id}/evaluate"): (
        *_AUTH,
        *_BODY,
        "not-allowed",
        "not-found",
        "pending",
        "destroyed",
        "expired",
        "suspended",
        "attempts-exhausted",
        "header-mismatch",
        "row-integrity",
        "restore-pending",
    ),
    ("POST", "/v1/containers/{container_id}/commit"): (
        *_AUTH,
        *_BODY,
        "not-allowed",
        "not-found",
        "conflict",
        "destroyed",
        "expired",
        "row-integrity",
    ),
    ("POST", "/v1/containers/{container_id}/receipt"): (
        *_AUTH,
        *_BODY,
        "invalid-receipt",
        "not-found",
        "pending",
        "conflict",
        "destroyed",
        "suspended",
        "row-integrity",
    ),
    ("POST", "/v1/containers/{container_id}/{op}"): (*_AUTH, *_BODY, *_STATE, "row-integrity"),
    ("POST", "/v1/containers/{container_id}/reset-budget"): (
        *_AUTH,
        *_BODY,
        *_STATE,
        "row-integrity",
    ),
    ("GET", "/v1/containers/{container_id}/access"): (
        *_AUTH,
        "not-allowed",
        "not-found",
        "pending",
        "destroyed",
        "expired",
        "suspended",
    ),
    ("GET", "/v1/media"): _AUTH,
    ("GET", "/v1/media/{medium}"): (*_AUTH, "not-found"),
    ("POST", "/v1/media/{medium}/{op}"): (*_AUTH, *_BODY, "not-found"),
    ("POST", "/v1/issuers/{principal}/{op}"): (*_AUTH, *_BODY, "not-found"),
    ("POST", "/v1/media/{medium}/loss-report"): (*_AUTH, *_BODY, "not-found"),
    ("GET", "/v1/media/{medium}/report"): (*_AUTH, "not-found"),
    ("GET", "/v1/audit"): _AUTH,
    ("GET", "/v1/audit/export"): _AUTH,
    ("GET", "/v1/audit/verify"): _AUTH,
    ("POST", "/v1/principals"): (*_AUTH, *_BODY, "conflict"),
    ("GET", "/v1/principals"): _AUTH,
    ("POST", "/v1/principals/{name}/tokens"): (*_AUTH, *_BODY, "not-found"),
    ("GET", "/v1/tokens"): _AUTH,
    ("POST", "/v1/tokens/{token_id}/revoke"): (*_AUTH, "not-found"),
    # spec §transparency: "not-found" also when the server keeps no log (no log key).
    ("GET", "/.well-known/rwc-log-key"): ("not-found",),
    ("GET", "/v1/tlog"): ("not-found",),
    ("GET", "/v1/tlog/checkpoint"): ("invalid-request", "not-found", "unavailable"),
    ("POST", "/v1/tlog/checkpoint"): (*_AUTH, "not-found"),
    ("GET", "/v1/tlog/checkpoints/{size}"): ("invalid-request", "not-found", "unavailable"),
    ("GET", "/v1/tlog/proof/consistency"): ("invalid-request", "not-found", "unavailable"),
    ("GET", "/v1/tlog/proof/inclusion"): (*_AUTH, "not-allowed", "not-found"),
    ("GET", "/v1/media/{medium}/report/signed"): (*_AUTH, "not-found", "conflict"),
    ("GET", "/v1/media/{medium}/destruction-certificate"): (*_AUTH, "not-found", "conflict"),
    ("POST", "/v1/tlog/cosignatures"): ("invalid-request", "not-found", "unavailable", *_BODY),
    # spec §approvals: "not-allowed" is the requester approving their own request;
    # "conflict" an expired or decided request, or targets that changed since it was made.
    ("GET", "/v1/approvals"): _AUTH,
    ("GET", "/v1/approvals/{approval_id}"): (*_AUTH, "not-found"),
    ("POST", "/v1/approvals/{approval_id}/approve"): (
        *_AUTH,
        "not-allowed",
        "not-found",
        "conflict",
    ),
    ("POST", "/v1/approvals/{approval_id}/reject"): (*_AUTH, *_BODY, "not-found", "conflict"),
}


# spec §transparency: /v1 routes anyone may call (hashes and signatures only).
PUBLIC_OPERATIONS = frozenset(
    {
        ("GET", "/v1/tlog"),
        ("GET", "/v1/tlog/checkpoint"),
        ("GET", "/v1/tlog/checkpoints/{size}"),
        ("GET", "/v1/tlog/proof/consistency"),
        ("POST", "/v1/tlog/cosignatures"),
    }
)


class UndocumentedRouteError(LookupError):
    """A route of the app has no entry in :data:`OPERATIONS` (update both together)."""


def _response(slugs: list[str]) -> dict[str, Any]:
    names = ", ".join(f"`{PROBLEM_TYPE_PREFIX}{s}`" for s in slugs)
    return {
        "description": f"Refused: {names} (spec §problems)",
        "content": {"application/problem+json": {"schema": PROBLEM_REF}},
    }


def _generated(app: FastAPI) -> dict[str, Any]:
    """FastAPI's own document for ``app`` (the same arguments as ``FastAPI.openapi``).

    Built with :func:`get_openapi` directly, not ``app.openapi()``: :func:`install`
    replaces that method with one that calls :func:`with_problems` (no recursion).
    """
    return get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        terms_of_service=app.terms_of_service,
        contact=app.contact,
        license_info=app.license_info,
        routes=app.routes,
        webhooks=app.webhooks.routes,
        tags=app.openapi_tags,
        servers=app.servers,
        separate_input_output_schemas=app.separate_input_output_schemas,
        external_docs=app.openapi_external_docs,
    )


def install(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (built on first use, cached).

    Call after every router is included: the routes are read once.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def with_problems(app: FastAPI) -> dict[str, Any]:
    """Return the app's OpenAPI document completed with its problem responses.

    Raises:
        UndocumentedRouteError: A route is missing from :data:`OPERATIONS`.
    """
    doc = _generated(app)  # a fresh document: completed in place
    doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    # The evaluate route reads its body itself (keyserver/_http/routers/containers.py) and
    # names the model in openapi_extra; FastAPI only lists models it validates.
    doc["components"]["schemas"].setdefault("EvaluateBody", EvaluateBody.model_json_schema())
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            key = (method.upper(), path)
            if key not in OPERATIONS:
                raise UndocumentedRouteError(f"{method.upper()} {path} has no problem list")
            responses: dict[str, Any] = operation.setdefault("responses", {})
            # The server never answers 422: validation failures are 400 invalid-request.
            responses.pop("422", None)
            by_status: dict[int, list[str]] = {}
            for slug in OPERATIONS[key]:
                by_status.setdefault(STATUS[slug], []).append(slug)
            for status, slugs in sorted(by_status.items()):
                responses.setdefault(str(status), _response(slugs))
    schemas = doc["components"]["schemas"]
    # Only the dropped 422 responses referred to these.
    text = repr(doc["paths"])
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas and f"#/components/schemas/{name}'" not in text:
            del schemas[name]
    return doc
