"""Admin: principals and tokens (add, list, revoke), shown to admins only."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from keyserver._domain.errors import ForbiddenError, NotFoundError
from keyserver._domain.i18n import N_
from keyserver._domain.lifecycle import ROLES
from keyserver._http.console import _security
from keyserver._http.console._page import Page, PostedPage, SignedInPage
from keyserver._http.console._routes_approvals import approvals_page

router = APIRouter(prefix=_security.PREFIX, include_in_schema=False)
_BACK = _security.PREFIX + "/admin"


def _admin_page(
    page: Page,
    status: int = 200,
    issued: dict[str, object] | None = None,
    revoked: dict[str, object] | None = None,
) -> Response:
    principals = page.service.list_principals(page.principal, ctx=page.ctx)
    tokens = page.service.list_tokens(page.principal, ctx=page.ctx)
    return page.render(
        "admin.html",
        status=status,
        principals=principals["principals"],
        tokens=tokens["tokens"],
        roles=sorted(ROLES),
        issued=issued,
        revoked=revoked,
    )


def _refuse_non_admin(page: Page) -> None:
    if not page.is_admin:
        # The service refuses (and audits) too; this only spares the page's reads.
        raise ForbiddenError(N_("the admin pages are for admins"))


@router.get("/admin")
def admin(page: SignedInPage) -> Response:
    """Principals and tokens."""

    def body() -> Response:
        _refuse_non_admin(page)
        return _admin_page(page)

    return page.act(body)


@router.post("/admin/principals")
def add_principal(page: PostedPage) -> Response:
    """Add a principal with a first token (shown once)."""

    def body() -> Response:
        _refuse_non_admin(page)
        roles = [r for r in sorted(ROLES) if page.form.get("role_" + r) == "on"]
        organisation = page.form.get("organisation", "").strip() or None
        issued = page.service.add_principal(
            page.principal,
            page.form.get("name", "").strip(),
            roles,
            organisation=organisation,
            ctx=page.ctx,
        )
        if issued.get("approval_required"):  # spec §approvals: a second admin decides
            return approvals_page(page, created=issued["approval"])
        return _admin_page(page, issued=issued)

    return page.act(body, _BACK)


@router.post("/admin/tokens")
def issue_token(page: PostedPage) -> Response:
    """Issue another token for a principal (shown once)."""

    def body() -> Response:
        _refuse_non_admin(page)
        issued = page.service.issue_token(
            page.principal, page.form.get("name", "").strip(), ctx=page.ctx
        )
        if issued.get("approval_required"):  # spec §approvals: a second admin decides
            return approvals_page(page, created=issued["approval"])
        return _admin_page(page, issued=issued)

    return page.act(body, _BACK)


@router.post("/admin/tokens/revoke")
def revoke_token(page: PostedPage) -> Response:
    """Revoke a token, after a confirmation page naming it and its principal.

    Every console session opened with the token ends at its next request.
    """

    def body() -> Response:
        _refuse_non_admin(page)
        token_id = page.form.get("token_id", "")
        if page.form.get("confirmed") != "yes":
            tokens = page.service.list_tokens(page.principal, ctx=page.ctx)["tokens"]
            token = next((t for t in tokens if t["token_id"] == token_id), None)
            if token is None:
                raise NotFoundError(N_("no such token"))
            return page.render("confirm_revoke.html", token=token)
        revoked = page.service.revoke_token(page.principal, token_id, ctx=page.ctx)
        return _admin_page(page, revoked=revoked)

    return page.act(body, _BACK)
