"""Failed-login limits in Redis: a fixed one-hour window per account and per client address.

Each key counts failures (INCR, with EXPIRE set by the first one); at `limit` failures the key refuses
further attempts until it expires, whatever the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funkwhale.config import Settings

WINDOW = 3600
SCOPE = "login"

_RECORD_LUA = """
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return 1
"""

_STATUS_LUA = """
local out = {}
for _, key in ipairs(KEYS) do
  table.insert(out, tonumber(redis.call('GET', key) or '0'))
  table.insert(out, redis.call('TTL', key))
end
return out
"""


def address_key(address: str) -> str:
    return f"fw:ratelimit:{SCOPE}:addr:{address}"


def account_key(user_id: int) -> str:
    return f"fw:ratelimit:{SCOPE}:user:{user_id}"


def login_keys(address: str, user_id: int | None) -> list[str]:
    """The counters a login attempt from `address` for account `user_id` (None: unknown) is held to."""
    return [address_key(address)] + ([] if user_id is None else [account_key(user_id)])


@dataclass(frozen=True)
class Standing:
    """The worst of the counters: failures so far and seconds until that counter resets (None: unused)."""

    used: int
    reset_seconds: int | None

    def blocked(self, limit: int) -> bool:
        return self.used >= limit


async def standing(redis: Any, keys: list[str]) -> Standing:
    """Where the client stands for these counters (one round trip)."""
    raw = await redis.cmd.eval(_STATUS_LUA, keys, [])
    used, reset = 0, None
    for count, ttl in zip(raw[::2], raw[1::2], strict=True):
        count, ttl = int(count), int(ttl)
        if count > used or (count == used and count and ttl > (reset or 0)):
            used, reset = count, (ttl if ttl > 0 else WINDOW)
    return Standing(used, reset)


async def record_failure(redis: Any, keys: list[str]) -> None:
    """Count one failed login against each counter."""
    await redis.cmd.eval(_RECORD_LUA, keys, [WINDOW])


def describe(standing: Standing, limit: int, now: float) -> dict[str, Any]:
    """The login scope as Funkwhale's /api/v1/rate-limit/ lists it."""
    blocked = standing.blocked(limit)
    reset_seconds = standing.reset_seconds if standing.used else None
    return {
        "id": SCOPE,
        "rate": f"{limit}/hour",
        "description": "Login",
        "limit": limit,
        "duration": WINDOW,
        "remaining": max(limit - standing.used, 0),
        "available": int(now + reset_seconds) if blocked and reset_seconds else None,
        "available_seconds": reset_seconds if blocked else None,
        "reset": int(now + reset_seconds) if reset_seconds else None,
        "reset_seconds": reset_seconds,
    }


def client_address(request: Any, settings: Settings) -> str:
    """The direct peer, or the first X-Forwarded-For hop when the peer is a trusted proxy."""
    peer = getattr(request.getClientAddress(), "host", None) or "unknown"
    if peer in settings.trusted_proxies:
        forwarded = (request.getHeader(b"x-forwarded-for") or b"").decode("latin-1")
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    return peer
