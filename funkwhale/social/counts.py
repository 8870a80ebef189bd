"""The `count` of a favorites or listening history page, cached in Redis instead of recounted for every page.

Counting every entry a viewer may see of every user (`scope=all`: a year of plays, 250,000 listenings) cost
170-350 ms. A count depends on the users' activity (their listenings and favorites, and who shows them: each
user's privacy), which the database versions itself (`activity_version`, migration 0016: any write of those adds
one, in the writer's transaction); on what the viewer may play (`cache.CATALOG`) and on their content filters
(`cache.user_scope`), whose writers invalidate them after their commit. The version is read first, and the count,
read after it, holds at least what that version stands for; a page shorter than its size ends the list, so its
count is known without asking.
"""

from __future__ import annotations

import dataclasses
import hashlib

from funkwhale import cache
from funkwhale.context import Context
from funkwhale.social import store

COUNT_TTL = 600  # seconds; the version and the generations make a change miss at once


async def total(ctx: Context, kind: str, listing: store.Listing, shown: int) -> int:
    """How many entries of `kind` the listing `listing` has in all, given that its page holds `shown`."""
    seen = listing.offset + shown
    if shown < listing.limit and (shown or listing.offset == 0):
        return seen  # the last page (or an empty first one): nothing beyond it

    async def compute() -> int:
        return await ctx.db.read(store.count_txn, kind, listing, desc=f"{kind}.count")

    version = await ctx.db.read(store.activity_version_txn, desc="activity.version")
    viewer = listing.viewer
    depends = [cache.CATALOG] if viewer.user_id is None else [cache.CATALOG, cache.user_scope(viewer.user_id)]
    which = repr(dataclasses.replace(listing, limit=0, offset=0))  # the viewer and what the list keeps
    key = f"{kind}:{version}:{hashlib.sha1(which.encode(), usedforsecurity=False).hexdigest()}"
    return max(await cache.cached(ctx, "activity.count", key, depends, compute, ttl=COUNT_TTL), seen)
