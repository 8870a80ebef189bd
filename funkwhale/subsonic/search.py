"""search2 / search3: artists, albums and songs matching a query, each with its own count and offset.

An empty query (or `""`, as Symfonium's sync sends it) pages through everything in id order, which stays stable
across pages; consecutive pages follow keyset cursors (funkwhale.subsonic.cursors), so deep offsets stay fast."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from twisted.internet.defer import ensureDeferred

from funkwhale.at_once import at_once
from funkwhale.context import Context
from funkwhale.subsonic import cursors, serializers, store
from funkwhale.subsonic.browsing import folder_of, read
from funkwhale.subsonic.registry import Call, Handler, endpoint
from funkwhale.subsonic.render import elements

MAX_COUNT = 500
# A sync's page of more songs than this is read as two halves at once when the database has connections to spare:
# on two connections, so on two cores (a 500-song page at c=1: see bench/subsonic.py).
SPLIT_FROM = 200


async def _found(ctx: Context, call: Call, request: store.Search) -> dict[str, Any]:
    """What `request` finds. A big page of a sync (songs alone, an empty query) is read as two halves at once when
    the pool has two connections free (under load they would only queue for them). The second half reads one row
    more, the first half's last, and the halves are joined only where that row matches: an import or a deletion
    between their two reads would otherwise repeat or skip a row, and then the second half is read again, after
    the first half's last row."""
    count, offset = request.songs
    if request.folded or request.artists[0] or request.albums[0] or count <= SPLIT_FROM or ctx.db.idle() < 2:
        return await read(ctx, store.search_txn, call.viewer, request, name="search")
    half = count // 2
    halves = [replace(request, songs=(half, offset)), replace(request, songs=(count - half + 1, offset + half - 1))]
    reads = [read(ctx, store.search_txn, call.viewer, h, name="search") for h in halves]
    head, tail = [found["songs"] for found in await at_once(*reads)]
    if len(head) < half:  # the page ends in its first half
        return {"songs": head}
    last = head[-1][0]  # a song row's id
    if not tail or tail[0][0] != last:
        rest = replace(request, songs=(count - half, offset + half), after={"songs": (last, offset + half)})
        tail = [head[-1], *(await read(ctx, store.search_txn, call.viewer, rest, name="search"))["songs"]]
    return {"songs": head + tail[1:]}


def _search(container: str, artist: Any, album: Any) -> Handler:
    async def search(ctx: Context, call: Call) -> dict[str, Any]:
        params = call.params

        def window(kind: str) -> tuple[int, int]:
            return params.int(f"{kind}Count", 20, 0, MAX_COUNT), params.int(f"{kind}Offset", 0, 0)

        request = store.Search(
            query=params.get("query") or "",
            artists=window("artist"),
            albums=window("album"),
            songs=window("song"),
            folder=folder_of(call),
        )
        request = await cursors.resume(ctx, call.user.id, request)
        found = await _found(ctx, call, request)
        remembered = ensureDeferred(cursors.remember(ctx, call.user.id, request, found))  # while songs are built
        try:
            songs = await elements(found.get("songs") or [], serializers.songs)
        finally:
            await remembered
        return {
            container: {
                "artist": [artist(r) for r in found.get("artists") or []],
                "album": [album(r) for r in found.get("albums") or []],
                "song": songs,
            }
        }

    return search


endpoint("search2")(_search("searchResult2", serializers.index_artist, serializers.album_child))
endpoint("search3")(_search("searchResult3", serializers.artist, serializers.album))
