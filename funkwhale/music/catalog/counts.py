"""The `count` of a catalog list, cached in Redis instead of recounted for every page.

A count depends on the catalog (what anyone may play: uploads, libraries, follows; `cache.CATALOG`) and on the
viewer's own data (content filters: `cache.user_scope`), whose writers invalidate them after their commit. A page
shorter than its size ends the list, so its count is known without asking; a cached count never claims fewer rows
than the page shows. The favorites filter depends on data no generation tracks, so it is counted every time.
"""

from __future__ import annotations

import hashlib

from funkwhale import cache
from funkwhale.context import Context
from funkwhale.music.catalog import store

COUNT_TTL = 600  # seconds; the generations make a changed catalog miss at once


async def total(ctx: Context, kind: str, listing: store.Listing, shown: int) -> int:
    """How many `kind` rows the list `listing` has in all, given that its page holds `shown` rows."""
    seen = listing.offset + shown
    if shown < listing.limit and (shown or listing.offset == 0):
        return seen  # the last page (or an empty first one): nothing beyond it

    async def compute() -> int:
        return await ctx.db.read(store.count_txn, kind, listing.viewer, listing.filters, desc=f"catalog.{kind}s.count")

    viewer = listing.viewer
    if listing.filters.favorites is not None:
        return max(await compute(), seen)
    depends = [cache.CATALOG] if viewer.user_id is None else [cache.CATALOG, cache.user_scope(viewer.user_id)]
    filters = hashlib.sha1(repr(listing.filters).encode(), usedforsecurity=False).hexdigest()
    key = f"{kind}:{viewer.user_id or 'anonymous'}:{filters}"
    return max(await cache.cached(ctx, "catalog.count", key, depends, compute, ttl=COUNT_TTL), seen)
