"""Redis as a cache for data read often and changed rarely, with explicit invalidation.

A cached value is stored under a key that embeds the generations of what it was computed from: the catalog
(`CATALOG`: what anyone may play, and where it comes from), the instance preferences (`PREFS`), one user's own
data (`user_scope(id)`: their stars, ratings, content filters). Code that changes one of these calls
`invalidate(ctx, scope)` once its transaction committed: the generation goes up (INCR), the next read misses and
computes afresh from PostgreSQL, and entries of older generations are never read again (they expire by TTL).
Reading the generations and the value is one round trip (a Lua script), which also counts the hit or miss in
Redis for the whole instance (`metrics.counters.CACHE`, read by /metrics); `stats` counts them in this process.
A value read recently is served from this process's mirror (funkwhale.cache_mirror), without the round trip, while
the process hears Redis announce every change of the generations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from funkwhale import cache_mirror
from funkwhale.context import Context
from funkwhale.metrics import counters
from funkwhale.redis_client import Redis
from funkwhale.web.json import dumps, loads

T = TypeVar("T")

CATALOG = "catalog"
PREFS = "prefs"
_PREFIX = "fw:cache:"

# KEYS: the generation counters, then the hit/miss counters; ARGV[1]: the key's name, ARGV[2]: the cache's name.
# Returns the full key (name + generations), its value and the milliseconds it has left (for the mirror).
_READ = """
local gens = {}
for i = 1, #KEYS - 1 do gens[i] = redis.call('GET', KEYS[i]) or '0' end
local full = ARGV[1] .. '@' .. table.concat(gens, '.')
local value = redis.call('GET', full)
redis.call('HINCRBY', KEYS[#KEYS], ARGV[2] .. (value and '|hit' or '|miss'), 1)
return {full, value, value and redis.call('PTTL', full) or 0}
"""

stats: Counter[str] = Counter()


def user_scope(user_id: int) -> str:
    return f"user:{user_id}"


def _generation_key(scope: str) -> str:
    return f"{cache_mirror.GENERATION_PREFIX}{scope}"


async def cached(
    ctx: Context,
    name: str,
    key: str,
    depends: Sequence[str],
    compute: Callable[[], Awaitable[T]],
    ttl: int = 600,
) -> T:
    """The value of `name`/`key` computed by `compute()` (JSON-serialisable), from the cache while none of the
    scopes in `depends` changed (and for at most `ttl` seconds); a None value is computed each time."""
    full, raw, ticket = await _read(ctx, name, key, depends)
    if raw is not None:
        return loads(raw)
    value = await compute()
    if value is not None:  # None (nothing found) is not kept: what is created later is seen at once
        await _keep(ctx, full, dumps(value), ttl, ticket)
    return value


async def cached_text(
    ctx: Context,
    name: str,
    key: str,
    depends: Sequence[str],
    compute: Callable[[], Awaitable[bytes | None]],
    ttl: int = 600,
) -> bytes | None:
    """As `cached`, for a rendered response body (UTF-8 text) kept and returned as it is: parsing a 1,000-track
    playlist's entries again would cost the reactor ~10 ms."""
    full, raw, ticket = await _read(ctx, name, key, depends)
    if raw is not None:
        return raw if isinstance(raw, bytes) else raw.encode()
    text = await compute()
    if text is not None:
        await _keep(ctx, full, text, ttl, ticket)
    return text


async def refreshed(
    ctx: Context,
    name: str,
    key: str,
    depends: Sequence[str],
    refresh: Callable[[Any], Awaitable[Any]],
    ttl: int = 600,
) -> Any:
    """A value kept under `name`/`key` (while none of the scopes in `depends` changed) that carries what it was
    computed from, so that it can be brought up to date in part: `refresh(kept)` (the stored value, None when
    there is none) returns it as it should be now, stored again when it differs. Always read from Redis, not from
    the mirror, since it is written again under the same generations."""
    full, raw, _ = await _read(ctx, name, key, depends, mirrored=False)
    kept = None if raw is None else loads(raw)
    value = await refresh(kept)
    if value is not None and value != kept:
        await _keep(ctx, full, dumps(value), ttl, -1)
    return value


async def _read(
    ctx: Context, name: str, key: str, depends: Sequence[str], mirrored: bool = True
) -> tuple[str, Any, int]:
    """(the full key under the current generations, its stored text or None, the mirror's ticket for `_keep`),
    counting the hit or miss; from the mirror when it has the value (no full key is needed then), unless not
    `mirrored` (then the mirror neither serves nor learns it)."""
    base, mirror = f"{_PREFIX}{name}:{key}", ctx.redis.mirror
    raw = mirror.get(base, depends) if mirrored else None
    if raw is not None:
        stats[f"{name}.hit"] += 1
        mirror.hits[name] += 1
        return "", raw, -1
    ticket = mirror.ticket() if mirrored else -1
    keys = [*(_generation_key(s) for s in depends), counters.CACHE]
    full, raw, left_ms = await ctx.redis.cmd.eval(_READ, keys, [base, name])
    mirror.learn(ticket, depends, full, raw, int(left_ms))
    stats[f"{name}.{'miss' if raw is None else 'hit'}"] += 1
    return full, raw, ticket


async def _keep(ctx: Context, full: str, text: bytes, ttl: int, ticket: int) -> None:
    """Store a computed value in Redis, and its copy in the mirror."""
    await ctx.redis.cmd.set(full, text, expire=ttl)
    ctx.redis.mirror.keep(ticket, full, text, ttl * 1000)


async def invalidate(ctx: Context, *scopes: str) -> None:
    """Make every cached value that depends on one of `scopes` stale (call it after the change committed)."""
    await invalidate_on(ctx.redis, *scopes)


async def invalidate_on(redis: Redis, *scopes: str) -> None:
    """`invalidate` through the Redis service (for code that holds it rather than a context)."""
    for scope in scopes:
        await redis.cmd.incr(_generation_key(scope))
        redis.mirror.heard(scope)  # here at once; the other processes when Redis's announcement arrives


def invalidate_from_cli(redis_url: str, *scopes: str) -> None:
    """`invalidate` for a command-line tool, which has no reactor (redis-py, blocking)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for scope in scopes:
            client.incr(_generation_key(scope))
    finally:
        client.close()


def hit_rates() -> dict[str, float]:
    """name -> share of reads answered from the cache in this process."""
    names = {k.rsplit(".", 1)[0] for k in stats}
    return {n: stats[f"{n}.hit"] / max(1, stats[f"{n}.hit"] + stats[f"{n}.miss"]) for n in sorted(names)}
