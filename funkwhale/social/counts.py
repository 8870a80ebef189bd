"""The `count` of a favorites or listening history page, kept in Redis per user instead of recounted every page.

Counting every entry a viewer may see of every user (`scope=all`: a year of plays, 250,000 listenings) cost 170-350
ms. A count is kept as its parts, one per user whose entries it counts, each with the version of that user's
activity it was counted at: the database keeps those versions itself (`activity_version`, migration 0016: any write
of a user's listenings or favorites, or of their privacy, adds one to theirs, in the writer's transaction). A page
reads the versions (one row per user who has any, or only the one user a list is of) and recounts the users whose
version moved only (a new listen: its listener's entries), whatever wrote them. The parts also depend on what the
viewer may play (`cache.CATALOG`) and on their content filters (`cache.user_scope`), whose writers invalidate them
after their commit: then every user is recounted. The versions are read before the counts, so a part holds at least
what its version stands for (a later change moves the version again). A page shorter than its size ends the list, so
its count is known without asking.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from funkwhale import cache
from funkwhale.context import Context
from funkwhale.social import store

COUNT_TTL = 600  # seconds; the generations make a changed catalog or filter miss at once


async def total(ctx: Context, kind: str, listing: store.Listing, shown: int) -> int:
    """How many entries of `kind` the listing `listing` has in all, given that its page holds `shown`."""
    seen = listing.offset + shown
    if shown < listing.limit and (shown or listing.offset == 0):
        return seen  # the last page (or an empty first one): nothing beyond it
    only = listing.viewer.user_id if listing.mine else listing.user  # a list of one user's entries
    read = await ctx.db.read(store.activity_versions_txn, None if only is None else [only], desc="activity.versions")
    versions = {str(user): version for user, version in read.items()}

    async def refresh(kept: dict[str, Any] | None) -> dict[str, Any]:
        """The parts `kept` (None: none yet) with the users whose version moved counted again."""
        if kept is None:
            stale, counts = None, {}
        else:
            old, counts = kept["versions"], dict(kept["counts"])
            stale = [user for user in versions.keys() | old.keys() if versions.get(user, 0) != old.get(user, 0)]
            if not stale:
                return kept
            for user in stale:
                counts.pop(user, None)
        users = None if stale is None else [int(user) for user in stale]
        fresh = await ctx.db.read(store.counts_txn, kind, listing, users, desc=f"{kind}.count")
        counts.update((str(user), n) for user, n in fresh.items())
        return {"versions": versions, "counts": counts}

    viewer = listing.viewer
    depends = [cache.CATALOG] if viewer.user_id is None else [cache.CATALOG, cache.user_scope(viewer.user_id)]
    which = repr(dataclasses.replace(listing, limit=0, offset=0))  # the viewer and what the list keeps
    key = f"{kind}:{hashlib.sha1(which.encode(), usedforsecurity=False).hexdigest()}"
    parts = await cache.refreshed(ctx, "activity.count", key, depends, refresh, ttl=COUNT_TTL)
    return max(sum(parts["counts"].values()), seen)
