"""Who is calling: an OAuth or application token (`Authorization: Bearer`), or a session cookie with CSRF."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from funkwhale.context import Context
from funkwhale.users import auth_cache
from funkwhale.users import store as users_store
from funkwhale.users.models import Principal
from funkwhale.users.oauth import store as oauth_store
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
        """From the credential cache (users.auth_cache), else PostgreSQL: one round trip either way."""
        header = (request.getHeader(b"authorization") or b"").decode("latin-1").strip()
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise ApiError(401, "Unsupported authorization header; use Bearer <token>.", "authentication_failed")
            token_hash = hash_token(token.strip())
            entry = await auth_cache.lookup(self.ctx, "bearer", token_hash, self._bearer(token_hash))
            principal = None if entry is None else auth_cache.principal_of(entry)
            if principal is None or not principal.user.is_active:
                raise ApiError(401, "Invalid or expired token.", "authentication_failed")
            return principal
        cookie = request.getCookie(SESSION_COOKIE)
        if not cookie:
            return None
        key_hash = hash_token(cookie.decode("latin-1"))
        entry = await auth_cache.lookup(self.ctx, "session", key_hash, self._session(key_hash))
        if entry is None:
            return None
        if request.method not in SAFE_METHODS:
            check_csrf(request, entry["csrf"])
        return auth_cache.principal_of(entry)

    def _bearer(self, token_hash: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
        async def compute() -> dict[str, Any] | None:
            found = await self.ctx.db.run(oauth_store.principal_for_bearer_txn, token_hash, desc="auth.bearer")
            return None if found is None else auth_cache.principal_json(found)

        return compute

    def _session(self, key_hash: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
        async def compute() -> dict[str, Any] | None:
            found = await self.ctx.db.run(users_store.session_principal_txn, key_hash, desc="auth.session")
            return None if found is None else auth_cache.principal_json(found[0], csrf=found[1])

        return compute


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
