"""search2 / search3: artists, albums and songs matching a query, each with its own count and offset.

An empty query (or `""`, as Symfonium's sync sends it) pages through everything in id order, which stays stable
across pages; consecutive pages follow keyset cursors (funkwhale.subsonic.cursors), so deep offsets stay fast."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import ensureDeferred

from funkwhale.context import Context
from funkwhale.subsonic import cursors, serializers, store
from funkwhale.subsonic.browsing import folder_of, read
from funkwhale.subsonic.registry import Call, Handler, endpoint
from funkwhale.subsonic.render import elements

MAX_COUNT = 500


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
        found = await read(ctx, store.search_txn, call.viewer, request, name="search")
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
