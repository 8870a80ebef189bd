"""Discovery from this instance's own data: getSimilarSongs / getSimilarSongs2 (songs by the seed's artist or
sharing its tags), getTopSongs (an artist's most listened songs here), and the similar artists of getArtistInfo(2).
No outside service (Last.fm, MusicBrainz) is asked. One SQL statement per call (store.py)."""

from __future__ import annotations

from typing import Any

from funkwhale.context import Context
from funkwhale.subsonic import ids, serializers, store
from funkwhale.subsonic.browsing import run
from funkwhale.subsonic.errors import not_found
from funkwhale.subsonic.registry import Call, Handler, endpoint
from funkwhale.subsonic.render import elements

MAX_COUNT = 500


def _similar_songs(container: str) -> Handler:
    async def get_similar_songs(ctx: Context, call: Call) -> dict[str, Any]:
        kind, number = ids.parse(call.params.require("id"), ids.ARTIST, ids.ALBUM, ids.TRACK)
        count = call.params.int("count", 50, 0, MAX_COUNT)
        rows = await run(ctx, store.similar_songs_txn, call.viewer, kind, number, count, name="similar_songs")
        if rows is None:
            raise not_found("No such artist, album or song.")
        return {container: {"song": await elements(rows, serializers.songs)}}

    return get_similar_songs


endpoint("getSimilarSongs")(_similar_songs("similarSongs"))
endpoint("getSimilarSongs2")(_similar_songs("similarSongs2"))


@endpoint("getTopSongs")
async def get_top_songs(ctx: Context, call: Call) -> dict[str, Any]:
    name = call.params.require("artist")
    count = call.params.int("count", 50, 0, MAX_COUNT)
    rows = await run(ctx, store.top_songs_txn, call.viewer, name, count, name="top_songs")
    return {"topSongs": {"song": await elements(rows, serializers.songs)}}


def _artist_info(container: str, shape: Any) -> Handler:
    async def get_artist_info(ctx: Context, call: Call) -> dict[str, Any]:
        """The artist's description as biography, and the artists sharing the most tags with it."""
        number = ids.number(call.params.require("id"), ids.ARTIST)
        count = call.params.int("count", 20, 0, 100)
        row = await run(ctx, store.artist_info_txn, call.viewer, number, count, name="artist_info")
        if row is None:
            raise not_found("Artist not found.")
        return {
            container: {
                "biography": row["description"] or "",
                "musicBrainzId": str(row["mbid"]) if row["mbid"] else "",
                "similarArtist": [shape(r) for r in row["similar"]],
            }
        }

    return get_artist_info


endpoint("getArtistInfo")(_artist_info("artistInfo", serializers.index_artist))
endpoint("getArtistInfo2")(_artist_info("artistInfo2", serializers.artist))
