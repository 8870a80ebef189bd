"""Who makes a Subsonic call.

As in Funkwhale, the secret is the user's Subsonic API token (users.subsonic_api_token, made from the web API),
never the account password: `u` + `p` (clear or `enc:` + hex), or `u` + `t` + `s` with t = md5(token + salt).
OpenSubsonic's `apiKey` is a personal application token or an OAuth access token (its scopes apply); `u` beside
it is error 43. A wrong credential is error 40 (44 for an apiKey) and counts toward the same failed-login limit
as the web API's login, per account and per address; over the limit every attempt is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from funkwhale import cache
from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.instance.settings import BY_IDENTIFIER
from funkwhale.subsonic import errors, store
from funkwhale.subsonic.errors import SubsonicError
from funkwhale.subsonic.params import Params
from funkwhale.users import auth_cache, ratelimit
from funkwhale.users.models import Principal, User
from funkwhale.users.tokens import hash_token
from funkwhale.web.client_address import client_address

SUPPORTED_MAJOR = 1


def check_version(value: str | None) -> None:
    """Errors 20/30 only for another major version: newer minor versions must not lock clients out."""
    major_text = (value or "").split(".")[0]
    if not (major_text.isascii() and major_text.isdigit()):
        return
    major = int(major_text) if len(major_text) <= 9 else SUPPORTED_MAJOR + 1  # int() refuses 4,300 digits
    if major > SUPPORTED_MAJOR:
        raise SubsonicError(errors.SERVER_TOO_OLD, "Incompatible Subsonic REST protocol version. Server must upgrade.")
    if major < SUPPORTED_MAJOR:
        raise SubsonicError(errors.CLIENT_TOO_OLD, "Incompatible Subsonic REST protocol version. Client must upgrade.")


def enabled(ctx: Context, stored: Any) -> bool:
    """The subsonic__enabled preference: the administrator's value, else its default."""
    return bool(BY_IDENTIFIER["subsonic__enabled"].default_for(ctx.settings) if stored is None else stored)


async def enabled_now(ctx: Context) -> bool:
    """The subsonic__enabled preference, from the preferences' cache."""
    return bool(await instance_settings.get(ctx, "subsonic__enabled"))


def _disabled() -> SubsonicError:
    return SubsonicError(errors.NOT_AUTHORIZED, "The Subsonic API is disabled on this instance.")


def _matches(token: str, params: Params) -> bool:
    """Whether the client's `p` or `t`+`s` proves it knows `token`."""
    password = params.get("p")
    if password is not None:
        if password.startswith("enc:"):
            try:
                password = bytes.fromhex(password[4:]).decode("utf-8")
            except ValueError:
                return False
        return hmac.compare_digest(password.encode(), token.encode())
    expected = hashlib.md5((token + (params.get("s") or "")).encode()).hexdigest()
    return hmac.compare_digest(expected.encode(), (params.get("t") or "").lower().encode())


async def _guarded(ctx: Context, keys: list[str]) -> None:
    limit = ctx.settings.login_rate_limit
    if await ratelimit.clear(ctx, keys, limit):
        return
    standing = await ratelimit.standing(ctx.redis, keys)
    if standing.blocked(limit):
        wait = standing.reset_seconds or ratelimit.WINDOW
        raise SubsonicError(errors.WRONG_CREDENTIALS, f"Too many failed logins: try again in {wait} seconds.")


async def authenticate(ctx: Context, params: Params, request: Any) -> Principal:
    """The caller's principal, or a SubsonicError (10, 20/30, 40, 42, 43, 44, 50 when the API is off)."""
    check_version(params.get("v"))
    if "jwt" in params:
        raise SubsonicError(errors.AUTH_MECHANISM_UNSUPPORTED, "Authentication by jwt is not supported.")
    address = client_address(request, ctx.settings)
    api_key = params.get("apiKey")
    if api_key is not None:
        if any(name in params for name in ("u", "p", "t", "s")):
            raise SubsonicError(errors.CONFLICTING_AUTH, "apiKey cannot be combined with u, p, t or s.")
        return await _by_api_key(ctx, api_key, address)
    username = params.require("u")
    if "p" in params and "t" in params:
        raise SubsonicError(errors.CONFLICTING_AUTH, "Send either p, or t and s, not both.")
    if "p" not in params:
        params.require("t")
        params.require("s")
    found = await _account(ctx, username)
    if not (enabled(ctx, found["enabled"]) if found else await enabled_now(ctx)):
        raise _disabled()
    user = None if found is None else auth_cache.user_of(found["user"])
    keys = ratelimit.login_keys(address, None if user is None else user.id)
    await _guarded(ctx, keys)
    token = None if found is None else found["token"]
    if user is None or not token or not user.is_active or not _matches(token, params):
        await ratelimit.record_failure(ctx.redis, keys)
        raise SubsonicError(errors.WRONG_CREDENTIALS, "Wrong username or password.")
    return Principal(user)


async def _account(ctx: Context, username: str) -> dict[str, Any] | None:
    """{user, token (their Subsonic API token), enabled (the stored preference)} of the account named
    `username` (any case), from the credential cache; None when there is no such account."""

    async def compute() -> dict[str, Any] | None:
        row = await ctx.db.run(store.credentials_txn, username, desc="subsonic.auth")
        if row["id"] is None:
            return None
        user = auth_cache.user_json(User.from_row(row))
        return {"user": user, "token": row["subsonic_api_token"], "enabled": row["enabled"]}

    return await auth_cache.lookup(ctx, "subsonic", username.lower(), compute, [cache.PREFS])


async def _by_api_key(ctx: Context, api_key: str, address: str) -> Principal:
    token_hash = hash_token(api_key)

    async def compute() -> dict[str, Any] | None:
        principal, stored = await ctx.db.run(store.api_key_txn, token_hash, desc="subsonic.auth")
        return None if principal is None else auth_cache.principal_json(principal, enabled=stored)

    entry = await auth_cache.lookup(ctx, "bearer.subsonic", token_hash, compute, [cache.PREFS])
    if not (enabled(ctx, entry["enabled"]) if entry else await enabled_now(ctx)):
        raise _disabled()
    keys = ratelimit.login_keys(address, None)
    await _guarded(ctx, keys)
    principal = None if entry is None else auth_cache.principal_of(entry)
    if principal is None or not principal.user.is_active:
        await ratelimit.record_failure(ctx.redis, keys)
        raise SubsonicError(errors.INVALID_API_KEY, "Invalid API key.")
    return principal


async def check_enabled(ctx: Context) -> None:
    """For public methods: error 50 when the administrator turned the API off."""
    if not await enabled_now(ctx):
        raise _disabled()
