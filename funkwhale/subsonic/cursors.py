"""Keyset cursors for the sync of search2/search3 with an empty query, which clients (Symfonium) page by offset.

An empty query lists everything in id order. A page that ends at offset N records, in Redis, the id of its last
row as the cursor of offset N (per user, music folder and kind); the next page, asked at offset N, starts after
that id by walking the primary key instead of skipping N rows. So deep pages cost what the page holds, and a
sync never skips nor repeats a row when tracks are added or removed between its pages. An offset without a
cursor (a client that jumps, an expired cursor) is served by offset, as before.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from funkwhale.context import Context
from funkwhale.subsonic.store import Search

CURSOR_TTL = 3600  # seconds: a sync's pages come in quick succession
KINDS = ("artists", "albums", "songs")
_PREFIX = "fw:subsonic:sync:"


def _key(user_id: int, search: Search, kind: str, offset: int) -> str:
    return f"{_PREFIX}{user_id}:{search.folder or 0}:{kind}:{offset}"


def _syncing(search: Search) -> bool:
    return not search.folded


async def resume(ctx: Context, user_id: int, search: Search) -> Search:
    """`search` with the cursors recorded for its windows' offsets (an empty query's only)."""
    wanted = [k for k in KINDS if _syncing(search) and getattr(search, k)[0] > 0 and getattr(search, k)[1] > 0]
    if not wanted:
        return search
    found = await ctx.redis.cmd.mget([_key(user_id, search, k, getattr(search, k)[1]) for k in wanted])
    after = {k: (int(v), getattr(search, k)[1]) for k, v in zip(wanted, found, strict=True) if v is not None}
    return dataclasses.replace(search, after=after) if after else search


async def remember(ctx: Context, user_id: int, search: Search, found: dict[str, Any]) -> None:
    """Record, for each full page of an empty query, the id of its last row as the cursor of the next offset."""
    if not _syncing(search):
        return
    for kind in KINDS:
        count, offset = getattr(search, kind)
        rows = found.get(kind) or []
        if count > 0 and len(rows) == count:
            last = rows[-1][0] if kind == "songs" else rows[-1]["id"]  # a song row is a tuple, its id first
            await ctx.redis.cmd.set(_key(user_id, search, kind, offset + count), str(last), expire=CURSOR_TTL)
