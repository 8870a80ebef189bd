"""Lists: getAlbumList / getAlbumList2 (every type), getRandomSongs, getSongsByGenre, getStarred / getStarred2."""

from __future__ import annotations

from typing import Any

from funkwhale.at_once import at_once
from funkwhale.context import Context
from funkwhale.subsonic import serializers, store
from funkwhale.subsonic.browsing import folder_of, read, run
from funkwhale.subsonic.errors import GENERIC, SubsonicError, missing
from funkwhale.subsonic.registry import Call, Handler, endpoint
from funkwhale.subsonic.render import LARGE, Later, elements

MAX_SIZE = 500
# Album lists that reveal the caller's own activity need its scope besides read:libraries.
_LIST_SCOPES = {"starred": "read:favorites", "highest": "read:favorites", "frequent": "read:listenings",
                "recent": "read:listenings"}  # fmt: skip


def _album_list(container: str, shape: Any) -> Handler:
    async def get_album_list(ctx: Context, call: Call) -> dict[str, Any]:
        params = call.params
        kind = params.require("type")
        if kind not in store.ALBUM_LIST_TYPES:
            raise SubsonicError(GENERIC, f"Unknown album list type: {kind}")
        if kind in _LIST_SCOPES:
            call.require_scope(_LIST_SCOPES[kind])
        if kind == "byYear" and ("fromYear" not in params or "toYear" not in params):
            raise missing("fromYear" if "fromYear" not in params else "toYear")
        request = store.AlbumList(
            kind=kind,
            size=params.int("size", 10, 0, MAX_SIZE),
            offset=params.int("offset", 0, 0),
            folder=folder_of(call),
            from_year=params.int("fromYear"),
            to_year=params.int("toYear"),
            genre=params.require("genre") if kind == "byGenre" else None,
        )
        rows = await read(ctx, store.album_list_txn, call.viewer, request, name="album_list")
        return {container: {"album": [shape(r) for r in rows]}}

    return get_album_list


endpoint("getAlbumList")(_album_list("albumList", serializers.album_child))
endpoint("getAlbumList2")(_album_list("albumList2", serializers.album))


@endpoint("getRandomSongs")
async def get_random_songs(ctx: Context, call: Call) -> dict[str, Any]:
    params = call.params
    rows = await run(
        ctx,
        store.random_songs_txn,
        call.viewer,
        params.int("size", 10, 0, MAX_SIZE),
        folder_of(call),
        params.get("genre") or None,
        params.int("fromYear"),
        params.int("toYear"),
        name="random_songs",
    )
    return {"randomSongs": {"song": await elements(rows, serializers.songs)}}


@endpoint("getSongsByGenre")
async def get_songs_by_genre(ctx: Context, call: Call) -> dict[str, Any]:
    params = call.params
    rows = await run(
        ctx,
        store.songs_by_genre_txn,
        call.viewer,
        params.require("genre"),
        params.int("count", 10, 0, MAX_SIZE),
        params.int("offset", 0, 0),
        folder_of(call),
        name="songs_by_genre",
    )
    return {"songsByGenre": {"song": await elements(rows, serializers.songs)}}


def _starred(container: str, artist: Any, album: Any) -> Handler:
    def build(found: dict[str, list[Any]]) -> dict[str, Any]:
        return {
            container: {
                "artist": [artist(r) for r in found["artists"]],
                "album": [album(r) for r in found["albums"]],
                "song": serializers.songs(found["songs"]),
            }
        }

    async def get_starred(ctx: Context, call: Call) -> dict[str, Any] | Later:
        # the three lists at once, each one statement on its own connection
        parts = [read(ctx, store.starred_part_txn, call.viewer, kind, name="starred") for kind in store.STARRED_KINDS]
        found = dict(zip(store.STARRED_KINDS, await at_once(*parts), strict=True))
        if sum(map(len, found.values())) > LARGE:  # a long answer: built and written in the CPU pool at once
            return Later(build, found)
        return build(found)

    return get_starred


endpoint("getStarred", scope="read:favorites")(_starred("starred", serializers.index_artist, serializers.album_child))
endpoint("getStarred2", scope="read:favorites")(_starred("starred2", serializers.artist, serializers.album))
