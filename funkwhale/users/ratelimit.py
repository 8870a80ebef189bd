"""Limits in Redis: fixed windows of counters per account and per client address.

`login`: wrong passwords, one hour. Every password check (web login, password change, account deletion) first
takes a slot atomically (`attempt`: one Lua script refuses when any counter is full, else increments them all),
so concurrent guesses can never run more checks than the limit; a right password gives its slot back
(`release`). Subsonic credentials (random tokens, checked without cost) are counted after a failure instead
(`standing` + `record_failure`), so a client's parallel requests never hold slots; every change of a counter
bumps the cache generation `COUNTERS`, so that a standing found clear (`clear`) is kept in the cache (and the
processes' mirrors: no round trip per Subsonic call) until a counter moves.
`signup`: accounts created per address, one day.
`password-reset` and `password-reset-confirm`: requests per address, one hour (1.4's rates); and at most
RESET_MAILS_PER_ACCOUNT reset mails to one account an hour, so that nobody can flood someone's mailbox from many
addresses (beyond it the request is answered as usual and sends nothing, which tells nothing about the account).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funkwhale import cache
from funkwhale.context import Context


@dataclass(frozen=True)
class Limit:
    """A kind of limit as Funkwhale's /api/v1/rate-limit/ names it, and its window (seconds, and as a word)."""

    id: str
    description: str
    window: int
    period: str


LOGIN = Limit("login", "Login", 3600, "hour")
SIGNUP = Limit("signup", "Account creation", 86400, "day")
PASSWORD_RESET = Limit("password-reset", "Password reset request", 3600, "h")
PASSWORD_RESET_CONFIRM = Limit("password-reset-confirm", "Password reset confirmation", 3600, "h")
RESET_RATE = 20  # requests per address and hour, for each of the two
RESET_MAILS_PER_ACCOUNT = 3
WINDOW = LOGIN.window
COUNTERS = "ratelimit"  # the cache generation every change of a counter bumps
# Funkwhale's other scopes and its default rates: listed by /api/v1/rate-limit/ (as 1.4 lists every scope) for
# clients that pace themselves by it, never counted here.
UNCOUNTED: tuple[tuple[Limit, int], ...] = (
    (Limit("anonymous-create", "Anonymous POST requests", 86400, "day"), 1000),
    (Limit("anonymous-destroy", "Anonymous DELETE requests on resource detail", 86400, "day"), 1000),
    (Limit("anonymous-list", "Anonymous GET requests on resource lists", 86400, "day"), 10000),
    (Limit("anonymous-oauth-app", "Anonymous OAuth app creation", 86400, "day"), 10),
    (Limit("anonymous-reports", "Anonymous report submission", 86400, "day"), 10),
    (Limit("anonymous-retrieve", "Anonymous GET requests on resource detail", 86400, "day"), 10000),
    (Limit("anonymous-update", "Anonymous PATCH and PUT requests on resource detail", 86400, "day"), 1000),
    (Limit("anonymous-wildcard", "Anonymous requests not covered by other limits", 3600, "h"), 1000),
    (Limit("authenticated-create", "Authenticated POST requests", 3600, "hour"), 1000),
    (Limit("authenticated-destroy", "Authenticated DELETE requests on resource detail", 3600, "hour"), 500),
    (Limit("authenticated-list", "Authenticated GET requests on resource lists", 3600, "hour"), 10000),
    (Limit("authenticated-oauth-app", "Authenticated OAuth app creation", 3600, "hour"), 10),
    (Limit("authenticated-reports", "Authenticated report submission", 86400, "day"), 100),
    (Limit("authenticated-retrieve", "Authenticated GET requests on resource detail", 3600, "hour"), 10000),
    (Limit("authenticated-update", "Authenticated PATCH and PUT requests on resource detail", 3600, "hour"), 1000),
    (Limit("authenticated-wildcard", "Authenticated requests not covered by other limits", 3600, "h"), 2000),
    (Limit("fetch", "Fetch remote objects", 86400, "d"), 200),
    (Limit("oauth-authorize", "OAuth app authorization", 3600, "hour"), 100),
    (Limit("oauth-revoke-token", "OAuth token deletion", 3600, "hour"), 100),
    (Limit("oauth-token", "OAuth token creation", 3600, "hour"), 100),
    (Limit("password-change", "Password change (when authenticated)", 3600, "h"), 20),
    (Limit("subsonic", "All subsonic API requests", 3600, "hour"), 2000),
    (Limit("verify-email", "Email address confirmation", 3600, "h"), 20),
)

# Refuse (returning the seconds until the fullest counter resets) or take one slot in every counter (0).
_ATTEMPT_LUA = """
local wait = 0
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[1]) then
    local ttl = redis.call('TTL', key)
    if ttl < 1 then ttl = tonumber(ARGV[2]) end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[2]) end
end
return 0
"""

_RELEASE_LUA = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 1
"""

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


def address_key(address: str, limit: Limit = LOGIN) -> str:
    return f"fw:ratelimit:{limit.id}:addr:{address}"


def account_key(user_id: int) -> str:
    return f"fw:ratelimit:{LOGIN.id}:user:{user_id}"


def login_keys(address: str, user_id: int | None) -> list[str]:
    """The counters a password check from `address` for account `user_id` (None: unknown) is held to."""
    return [address_key(address)] + ([] if user_id is None else [account_key(user_id)])


def signup_keys(address: str) -> list[str]:
    return [address_key(address, SIGNUP)]


def reset_mail_key(user_id: int) -> str:
    return f"fw:ratelimit:{PASSWORD_RESET.id}:user:{user_id}"


async def attempt(redis: Any, keys: list[str], limit: int, window: int = WINDOW) -> int | None:
    """Take a slot in each counter: None when taken, else the seconds to wait (nothing counted)."""
    wait = int(await redis.cmd.eval(_ATTEMPT_LUA, keys, [limit, window]))
    if not wait:
        await cache.invalidate_on(redis, COUNTERS)
    return wait or None


async def release(redis: Any, keys: list[str]) -> None:
    """Give back the slots an `attempt` took (the password was right, or nothing was done)."""
    await redis.cmd.eval(_RELEASE_LUA, keys, [])
    await cache.invalidate_on(redis, COUNTERS)


@dataclass(frozen=True)
class Standing:
    """The worst of the counters: attempts so far and seconds until that counter resets (None: unused)."""

    used: int
    reset_seconds: int | None

    def blocked(self, limit: int) -> bool:
        return self.used >= limit


async def standing(redis: Any, keys: list[str], window: int = WINDOW) -> Standing:
    """Where the client stands for these counters (one round trip)."""
    raw = await redis.cmd.eval(_STATUS_LUA, keys, [])
    used, reset = 0, None
    for count, ttl in zip(raw[::2], raw[1::2], strict=True):
        count, ttl = int(count), int(ttl)
        if count > used or (count == used and count and ttl > (reset or 0)):
            used, reset = count, (ttl if ttl > 0 else window)
    return Standing(used, reset)


async def record_failure(redis: Any, keys: list[str]) -> None:
    """Count one failed Subsonic login against each counter."""
    await redis.cmd.eval(_RECORD_LUA, keys, [WINDOW])
    await cache.invalidate_on(redis, COUNTERS)


async def clear(ctx: Context, keys: list[str], limit: int) -> bool:
    """Whether the client is below `limit` on every counter: from the cache while no counter moved (a standing
    only gets clearer as counters expire), else one round trip (a blocked standing is never kept)."""

    async def compute() -> bool | None:
        return None if (await standing(ctx.redis, keys)).blocked(limit) else True

    return bool(await cache.cached(ctx, "login.clear", f"{limit}|{'|'.join(keys)}", [COUNTERS], compute, WINDOW))


def describe(limit: Limit, rate: int, standing: Standing, now: float) -> dict[str, Any]:
    """One scope as Funkwhale's /api/v1/rate-limit/ lists it."""
    blocked = standing.blocked(rate)
    reset_seconds = standing.reset_seconds if standing.used else None
    return {
        "id": limit.id,
        "rate": f"{rate}/{limit.period}",
        "description": limit.description,
        "limit": rate,
        "duration": limit.window,
        "remaining": max(rate - standing.used, 0),
        "available": int(now + reset_seconds) if blocked and reset_seconds else None,
        "available_seconds": reset_seconds if blocked else None,
        "reset": int(now + reset_seconds) if reset_seconds else None,
        "reset_seconds": reset_seconds,
    }
