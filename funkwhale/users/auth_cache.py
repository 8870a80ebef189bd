"""Who a credential speaks for, from the Redis cache (funkwhale.cache) rather than PostgreSQL on every request:
a session cookie, a Bearer token (OAuth or application), a Subsonic account (u + p or t + s) or apiKey.

Entries depend on the `AUTH` generation, which every change that ends or narrows a credential bumps once it
committed (`changed`): logout, a password change or reset (the CLI's too), account deletion or profile edit, a
Subsonic token set or removed, an OAuth token revoked, rotated or its grants withdrawn, an application deleted, its
scopes or its token changed. So a revocation is seen by the very next request, in every web process. Expiry is
checked against the date kept in the entry; an entry lives at most TTL seconds, which bounds what a change made
behind the daemon's back (SQL by hand) leaves, and keeps the session's once-a-minute activity stamp going.
Unknown credentials are not cached (a flood of made-up tokens does not fill Redis).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from funkwhale import cache
from funkwhale.context import Context
from funkwhale.users.models import Principal, User

AUTH = "auth"
TTL = 60
_DATES = ("date_joined", "last_login")
_USER_FIELDS = tuple(f.name for f in fields(User) if f.name != "extra")


def user_json(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in _USER_FIELDS}


def user_of(data: dict[str, Any]) -> User:
    """A User from `user_json` (dates come back as text from the cache)."""
    return User(**{**data, **{name: _moment(data.get(name)) for name in _DATES}})


def principal_json(principal: Principal, **extra: Any) -> dict[str, Any]:
    """A principal for the cache (with its credential's expiry), and `extra` values."""
    return {
        "user": user_json(principal.user),
        "scopes": sorted(principal.scopes),
        "via_session": principal.via_session,
        "application_id": principal.application_id,
        "expires": principal.expires,
        **extra,
    }


def _moment(value: datetime | str | None) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def principal_of(data: dict[str, Any]) -> Principal:
    return Principal(
        user=user_of(data["user"]),
        scopes=frozenset(data["scopes"]),
        via_session=data["via_session"],
        application_id=data["application_id"],
        expires=_moment(data["expires"]),
    )


def _live(entry: dict[str, Any] | None) -> bool:
    expires = None if entry is None else _moment(entry.get("expires"))
    return expires is None or expires > datetime.now(UTC)


async def lookup(
    ctx: Context,
    kind: str,
    key: str,
    compute: Callable[[], Awaitable[dict[str, Any] | None]],
    depends: Sequence[str] = (),
) -> dict[str, Any] | None:
    """The cache entry of the credential `kind`/`key` (a hash, or a folded user name), computed by `compute()`
    (None for an unknown credential) on a miss; None also once the entry's `expires` has passed."""
    entry = await cache.cached(ctx, f"auth.{kind}", key, [AUTH, *depends], compute, ttl=TTL)
    return entry if _live(entry) else None


async def changed(ctx: Context) -> None:
    """A credential ended or changed: every cached one is looked up afresh (call it after the commit)."""
    await cache.invalidate(ctx, AUTH)
