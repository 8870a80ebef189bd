"""The authorization-code grant (RFC 6749 §4.1) with optional PKCE (RFC 7636), refresh-token rotation,
token revocation (RFC 7009), the grants a user has given, and the sweep of expired ones.

Clients are confidential: the token and revocation endpoints always authenticate the client with its
secret. PKCE is optional and comes on top: when the authorization request carried a code_challenge, the code
is only exchanged against the matching code_verifier."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.users import auth_cache
from funkwhale.users.oauth import apps, pkce, store
from funkwhale.users.oauth import scopes as scope_names
from funkwhale.users.oauth.apps import redirect_uris
from funkwhale.users.oauth.scopes import ALL_SCOPES
from funkwhale.users.tokens import hash_token, new_token, same

CODE_LIFETIME = 600
ACCESS_TOKEN_LIFETIME = 36000
# As Funkwhale configures django-oauth-toolkit: a refresh token is kept for 15 days after its access token
# expired, then cleared; so an app unused for that long must ask the user again.
REFRESH_TOKEN_LIFETIME = ACCESS_TOKEN_LIFETIME + 15 * 86400


class OAuthError(Exception):
    """An error of the token or revocation endpoint: {"error", "error_description"} (RFC 6749 §5.2)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request: what the user is asked to consent to."""

    application: dict[str, Any]
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    code_challenge: str
    code_challenge_method: str

    def describe(self) -> dict[str, Any]:
        return {
            "application": apps.describe(self.application),
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": scope_names.join(self.scopes),
            "scopes": list(self.scopes),
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": self.code_challenge_method,
        }


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    return value.strip() if isinstance(value, str) else ""


async def check_authorization(ctx: Context, params: Mapping[str, Any]) -> AuthorizationRequest:
    """Check an authorization request (query of GET /authorize/ or body of its POST); 400 by field."""
    errors: dict[str, list[str]] = {}
    if _text(params, "response_type") not in ("", "code"):
        errors["response_type"] = ['Only "code" is supported.']
    client_id = _text(params, "client_id")
    app = await ctx.db.run(store.application_txn, client_id, desc="oauth.app") if client_id else None
    if app is None:
        errors["client_id"] = ["Invalid application."]
        raise Invalid(fields=errors)
    redirect_uri = _text(params, "redirect_uri")
    if not redirect_uri:
        errors["redirect_uri"] = ["This field is required."]
    elif redirect_uri not in redirect_uris(app["redirect_uris"]):
        errors["redirect_uri"] = ["This redirect URI is not registered for the application."]
    offered = app["scope"].split()
    requested = scope_names.parse(_text(params, "scope")) or offered
    refused = [s for s in requested if s not in ALL_SCOPES or not scope_names.covers(offered, s)]
    if refused:
        errors["scope"] = [f'"{s}" is not a scope of this application.' for s in refused]
    challenge, method = _text(params, "code_challenge"), _text(params, "code_challenge_method")
    if challenge:
        method = method or "plain"
        if method not in pkce.METHODS:
            errors["code_challenge_method"] = [f"Use one of {', '.join(pkce.METHODS)}."]
        if not pkce.well_formed(challenge):
            errors["code_challenge"] = ["Expected 43 to 128 unreserved characters."]
    elif method:
        errors["code_challenge"] = ["This field is required with code_challenge_method."]
    if errors:
        raise Invalid(fields=errors)
    return AuthorizationRequest(app, redirect_uri, tuple(requested), _text(params, "state"), challenge, method)


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode({k: v for k, v in params.items() if v})


async def authorize(ctx: Context, request: AuthorizationRequest, user_id: int, allow: bool) -> dict[str, Any]:
    """The user's answer: where to send them back, with a fresh code (valid CODE_LIFETIME seconds) or
    error=access_denied. The code is also in the body, for the out-of-band redirect URI."""
    if not allow:
        return {"redirect_uri": _with_query(request.redirect_uri, {"error": "access_denied", "state": request.state})}
    code = new_token()
    await ctx.db.run(
        store.insert_grant_txn,
        request.application["id"],
        user_id,
        hash_token(code),
        request.redirect_uri,
        scope_names.join(request.scopes),
        request.code_challenge,
        request.code_challenge_method,
        CODE_LIFETIME,
        desc="oauth.authorize",
    )
    return {"redirect_uri": _with_query(request.redirect_uri, {"code": code, "state": request.state}), "code": code}


async def authenticate_client(ctx: Context, client_id: str, client_secret: str) -> dict[str, Any]:
    """The application these credentials belong to, or invalid_client (401)."""
    app = await ctx.db.run(store.client_txn, client_id, desc="oauth.client") if client_id else None
    if app is None or not client_secret or not same(hash_token(client_secret), app["client_secret_hash"]):
        raise OAuthError("invalid_client", "Client authentication failed.", 401)
    return app


def _issue_txn(txn: Any, app_id: int, user_id: int, scope: str, refresh_scope: str | None = None) -> dict[str, Any]:
    """A new access token with `scope`, and a refresh token with `refresh_scope` (by default the same)."""
    access, refresh = new_token(), new_token()
    scopes = (scope, refresh_scope or scope)
    store.insert_tokens_txn(
        txn, app_id, user_id, scopes, hash_token(access), hash_token(refresh), ACCESS_TOKEN_LIFETIME
    )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "refresh_token": refresh,
        "scope": scope,
    }


def _exchange_code_txn(txn: Any, app_id: int, code: str, redirect_uri: str, verifier: str) -> dict[str, Any]:
    """Trade a code for tokens. Any failure rolls the transaction back: the code stays usable until it is
    exchanged once, successfully."""
    grant = store.live_grant_for_update_txn(txn, app_id, hash_token(code))
    if grant is None:
        raise OAuthError("invalid_grant", "The authorization code is invalid, expired or already used.")
    if redirect_uri != grant["redirect_uri"]:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
    if grant["code_challenge"] and not pkce.verify(grant["code_challenge"], grant["code_challenge_method"], verifier):
        raise OAuthError("invalid_grant", "The code_verifier does not match the code_challenge.")
    store.delete_grant_txn(txn, grant["id"])
    return _issue_txn(txn, app_id, grant["user_id"], grant["scope"])


def _refresh_txn(txn: Any, app_id: int, refresh_token: str, scope: str) -> dict[str, Any]:
    """Rotate: the refresh token is revoked (with its access token) and a new pair issued. The access token
    has the granted scopes or, when `scope` is given, a subset of them; the new refresh token keeps the granted
    scopes (RFC 6749 §6)."""
    old = store.live_refresh_token_for_update_txn(txn, app_id, hash_token(refresh_token), REFRESH_TOKEN_LIFETIME)
    if old is None:
        raise OAuthError("invalid_grant", "The refresh token is invalid, expired or revoked.")
    granted = old["scope"].split()
    requested = scope_names.parse(scope) or granted
    if not all(scope_names.covers(granted, s) for s in requested):
        raise OAuthError("invalid_scope", "The requested scope exceeds the scope granted by the user.")
    store.revoke_refresh_token_txn(txn, old["id"])
    return _issue_txn(txn, app_id, old["user_id"], scope_names.join(requested), old["scope"])


async def token(ctx: Context, app: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """POST /token/ for an authenticated client: grant_type authorization_code or refresh_token."""
    grant_type = _text(params, "grant_type")
    if grant_type == "authorization_code":
        code = _text(params, "code")
        if not code:
            raise OAuthError("invalid_request", "Missing code.")
        args = (code, _text(params, "redirect_uri"), _text(params, "code_verifier"))
        return await ctx.db.run(_exchange_code_txn, app["id"], *args, desc="oauth.exchange_code")
    if grant_type == "refresh_token":
        refresh_token = _text(params, "refresh_token")
        if not refresh_token:
            raise OAuthError("invalid_request", "Missing refresh_token.")
        issued = await ctx.db.run(_refresh_txn, app["id"], refresh_token, _text(params, "scope"), desc="oauth.refresh")
        await auth_cache.changed(ctx)  # the old access token went with the old refresh token
        return issued
    if not grant_type:
        raise OAuthError("invalid_request", "Missing grant_type.")
    raise OAuthError("unsupported_grant_type", f"Unsupported grant type: {grant_type}.")


async def revoke(ctx: Context, app: dict[str, Any], token_value: str) -> None:
    """Revoke an access or refresh token of this client (a refresh token takes its access token along).
    Unknown tokens, and other clients' tokens, are ignored (RFC 7009 §2.2)."""
    if token_value:
        await ctx.db.run(store.revoke_token_txn, app["id"], hash_token(token_value), desc="oauth.revoke")
        await auth_cache.changed(ctx)


async def granted_applications(ctx: Context, user_id: int) -> list[dict[str, Any]]:
    """The applications that hold a live grant or token of the user."""
    rows = await ctx.db.run(store.granted_applications_txn, user_id, REFRESH_TOKEN_LIFETIME, desc="oauth.granted_apps")
    return [apps.describe(row) for row in rows]


async def revoke_grants(ctx: Context, user_id: int, client_id: str) -> bool:
    """Take back everything the user gave an application; False when it held nothing."""
    revoked = await ctx.db.run(store.revoke_user_grants_txn, user_id, client_id, desc="oauth.revoke_grants")
    await auth_cache.changed(ctx)
    return bool(revoked)


async def clear_expired(ctx: Context) -> int:
    """Scheduler job: delete expired codes and access tokens, and revoked or outlived refresh tokens."""
    return await ctx.db.run(store.clear_expired_txn, REFRESH_TOKEN_LIFETIME, desc="oauth.clear_expired")
