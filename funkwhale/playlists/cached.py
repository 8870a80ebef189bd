"""A playlist's rendered entries from the Redis cache (funkwhale.cache): a 1,000-track playlist costs ~200 ms
of SQL and rendering, and is read far more often than it changes.

The key holds the playlist's version (`store.stamp_txn`, one indexed row read, which also checks that the
viewer may see it) and the viewer, so an edit of the playlist is seen at once without any invalidation call;
the entries also depend on the catalog (what the viewer may play) and on the viewer's own data (content
filters), whose generations the cache checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from funkwhale import cache
from funkwhale.context import Context
from funkwhale.music.visibility import Viewer
from funkwhale.playlists import store

TTL = 600  # seconds: bounds what a catalog change that bumps no generation can leave stale


async def playlist_view(
    ctx: Context, viewer: Viewer, playlist_id: int, name: str, compute: Callable[[], Awaitable[bytes | None]]
) -> bytes | None:
    """`compute()`, a rendered body (named `name` with its variant: `"tracks:0:1000"`) of the playlist as it
    stands, for this viewer; None when they may not see it."""
    stamp = await ctx.db.run(store.stamp_txn, viewer, playlist_id, desc="playlists.stamp")
    if stamp is None:
        return None
    depends = [cache.CATALOG] + ([cache.user_scope(viewer.user_id)] if viewer.user_id is not None else [])
    key = f"{viewer.user_id or 0}:{playlist_id}:{stamp}:{name}"
    return await cache.cached_text(ctx, "playlist", key, depends, compute, ttl=TTL)
