"""Who is calling: an OAuth or application token (`Authorization: Bearer`), or a session cookie with CSRF."""

from __future__ import annotations

from typing import Any

from funkwhale.context import Context
from funkwhale.users.models import Principal
from funkwhale.users.tokens import hash_token, same
from funkwhale.web.errors import ApiError
from funkwhale.web.params import read_body

SESSION_COOKIE = b"sessionid"
CSRF_COOKIE = b"csrftoken"
CSRF_HEADER = b"x-csrftoken"
CSRF_FIELD = "csrfmiddlewaretoken"
FORM_TYPE = b"application/x-www-form-urlencoded"
SAFE_METHODS = (b"GET", b"HEAD", b"OPTIONS")
_CACHE = "_funkwhale_principal"


class Auth:
    """Resolves the principal of a request once and caches it on the request."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def optional(self, request: Any) -> Principal | None:
        if not hasattr(request, _CACHE):
            setattr(request, _CACHE, await self._resolve(request))
        return getattr(request, _CACHE)

    async def require(self, request: Any, scope: str | None = None) -> Principal:
        """The caller, or 401; 403 when `scope` (e.g. "write:profile", "read:instance:settings") is not theirs:
        their token lacks it, or (an "instance:*" scope) their account lacks the permission behind it."""
        principal = await self.optional(request)
        if principal is None:
            raise ApiError(401, "Authentication credentials were not provided.", "not_authenticated")
        if scope is not None:
            check_scope(principal, scope)
        return principal

    async def _resolve(self, request: Any) -> Principal | None:
        from funkwhale.users import store as users_store

        header = (request.getHeader(b"authorization") or b"").decode("latin-1").strip()
        if header:
            from funkwhale.users.oauth import store as oauth_store

            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, "Unsupported authorization header; use Bearer <token>.", "authentication_failed")
            principal = await self.ctx.db.run(
                oauth_store.principal_for_bearer_txn, hash_token(token.strip()), desc="auth.bearer"
            )
            if principal is None or not principal.user.is_active:
                raise ApiError(401, "Invalid or expired token.", "authentication_failed")
            return principal
        cookie = request.getCookie(SESSION_COOKIE)
        if not cookie:
            return None
        found = await self.ctx.db.run(
            users_store.session_principal_txn, hash_token(cookie.decode("latin-1")), desc="auth.session"
        )
        if found is None:
            return None
        principal, csrf_token = found
        if request.method not in SAFE_METHODS:
            check_csrf(request, csrf_token)
        return principal


def check_scope(principal: Principal, scope: str) -> None:
    """403 unless the principal may use `scope`."""
    if not principal.user.may_use(scope):
        raise ApiError(403, "You do not have permission to perform this action.", "permission_denied")
    if not principal.allows(scope):
        raise ApiError(403, f"Your token lacks the {scope} scope.", "permission_denied")


def _submitted_csrf(request: Any) -> str:
    """The token the client sent: the X-CSRFToken header, or a form's csrfmiddlewaretoken field (Django's two)."""
    header = (request.getHeader(CSRF_HEADER) or b"").decode("latin-1")
    if header:
        return header
    ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if ctype != FORM_TYPE and getattr(request, "multipart_fields", None) is None:
        return ""
    field = read_body(request).get(CSRF_FIELD)
    return field if isinstance(field, str) else ""


def check_csrf(request: Any, expected: str | None = None) -> None:
    """Double submit: the submitted token must equal the csrftoken cookie (and the session's token), which a
    cross-site page can neither read nor set."""
    submitted = _submitted_csrf(request)
    cookie = (request.getCookie(CSRF_COOKIE) or b"").decode("latin-1")
    matches = bool(submitted and cookie) and same(submitted, cookie)
    if not matches or (expected is not None and not same(submitted, expected)):
        raise ApiError(403, "CSRF Failed: CSRF token missing or incorrect.", "permission_denied")
