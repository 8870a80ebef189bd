"""Browsing: getMusicFolders, getIndexes, getMusicDirectory, getArtists, getArtist, getAlbum, getSong,
getAlbumInfo(2), getGenres (getArtistInfo(2) is in discovery.py). One SQL statement per call (store.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import groupby
from typing import Any

from funkwhale import cache
from funkwhale.context import Context
from funkwhale.music.normalize import fold
from funkwhale.subsonic import ids, render, serializers, store
from funkwhale.subsonic.errors import not_found
from funkwhale.subsonic.registry import Call, endpoint
from funkwhale.threads import run_cpu

IGNORED_ARTICLES = store.IGNORED_ARTICLES
_ARTICLES = tuple(article.lower() + " " for article in IGNORED_ARTICLES.split())


def sort_name(name: str) -> str:
    """The name as indexes sort it: folded, without a leading ignored article ("The Night Owls" -> "night owls")."""
    folded = fold(name)
    for article in _ARTICLES:
        if folded.startswith(article) and len(folded) > len(article):
            return folded[len(article) :]
    return folded


def _index_letter(name: str) -> str:
    first = sort_name(name)[:1].upper()
    return first if first.isalpha() else "#"


def indexed(rows: list[dict[str, Any]], shape: Any) -> list[dict[str, Any]]:
    """Artists grouped under their first letter (ignoring articles), "#" for the rest, sorted within."""
    ordered = sorted(rows, key=lambda r: (_index_letter(r["name"]), sort_name(r["name"]), r["id"]))
    return [
        {"name": letter, "artist": [shape(r) for r in group]}
        for letter, group in groupby(ordered, key=lambda r: _index_letter(r["name"]))
    ]


def folder_of(call: Call) -> int | None:
    return call.params.int("musicFolderId")


async def run(ctx: Context, fn: Any, *args: Any, name: str) -> Any:
    return await ctx.db.run(fn, *args, desc=f"subsonic.{name}")


async def read(ctx: Context, fn: Any, *args: Any, name: str) -> Any:
    """`run` for a read of one statement (Database.read: no BEGIN and COMMIT round trips)."""
    return await ctx.db.read(fn, *args, desc=f"subsonic.{name}")


@endpoint("getMusicFolders")
async def get_music_folders(ctx: Context, call: Call) -> dict[str, Any]:
    rows = await run(ctx, store.music_folders_txn, call.viewer, name="music_folders")
    mine = call.user.actor_id
    folders = [
        {"id": r["id"], "name": r["name"] if r["owner_actor_id"] == mine else f"{r['name']} ({r['owner']})"}
        for r in rows
    ]
    return {"musicFolders": {"musicFolder": folders}}


def _index_key(call: Call) -> tuple[str, list[str]]:
    """The cache key of an artist index of the caller's, and what it depends on: the catalog and the caller's own
    data (stars, ratings, content filters)."""
    user = call.user.id
    return f"{user}:{folder_of(call)}", [cache.CATALOG, cache.user_scope(user)]


async def _cached_piece(
    ctx: Context, call: Call, name: str, element: str, items: Callable[[], Awaitable[tuple[int, list[Any]]]]
) -> tuple[int, Any]:
    """(a number, the list of `element`s) that `items()` computes for an artist index of the caller's, cached as
    written in the call's format: a JSON answer splices the JSON, an XML one the XML, neither parses it again
    (a 500-artist index: the daemon's CPU per getArtists 1.4 -> 0.35 ms in JSON, 2.6 -> 0.4 ms in XML)."""
    written = render.written_as(call.params.get("f"), call.params.get("callback"))

    async def compute() -> bytes:
        number, found = await items()
        if render.is_large(found):  # writing ~1,000 elements takes milliseconds: not on the reactor
            piece = await run_cpu(render.write_piece, written, element, found)
        else:
            piece = render.write_piece(written, element, found)
        return b"%d\n" % number + piece

    key, depends = _index_key(call)
    text = await cache.cached_text(ctx, f"subsonic.{name}.{written}", key, depends, compute)
    assert text is not None  # an index, even empty, is kept
    number, _, rest = text.partition(b"\n")
    return int(number), render.piece(written, rest)


@endpoint("getIndexes")
async def get_indexes(ctx: Context, call: Call) -> dict[str, Any]:
    async def items() -> tuple[int, list[Any]]:
        rows = await run(ctx, store.artists_txn, call.viewer, folder_of(call), True, name="indexes")
        changed = max((r["last_modified"] for r in rows if r["last_modified"]), default=None)
        return (int(changed.timestamp() * 1000) if changed else 0), indexed(rows, serializers.index_artist)

    last_modified, index = await _cached_piece(ctx, call, "indexes", "index", items)
    body: dict[str, Any] = {"lastModified": last_modified, "ignoredArticles": IGNORED_ARTICLES}
    since = call.params.int("ifModifiedSince", 0)
    if not since or last_modified > since:
        body["index"] = index
    return {"indexes": body}


@endpoint("getArtists")
async def get_artists(ctx: Context, call: Call) -> dict[str, Any]:
    async def items() -> tuple[int, list[Any]]:
        rows = await run(ctx, store.artists_txn, call.viewer, folder_of(call), name="artists")
        return 0, indexed(rows, serializers.artist)

    _, index = await _cached_piece(ctx, call, "artists", "index", items)
    return {"artists": {"ignoredArticles": IGNORED_ARTICLES, "index": index}}


async def _artist(ctx: Context, call: Call) -> dict[str, Any]:
    row = await run(
        ctx, store.artist_txn, call.viewer, ids.number(call.params.require("id"), ids.ARTIST), name="artist"
    )
    if row is None:
        raise not_found("Artist not found.")
    return row


async def _album(ctx: Context, call: Call) -> dict[str, Any]:
    row = await run(ctx, store.album_txn, call.viewer, ids.number(call.params.require("id"), ids.ALBUM), name="album")
    if row is None:
        raise not_found("Album not found.")
    return row


@endpoint("getArtist")
async def get_artist(ctx: Context, call: Call) -> dict[str, Any]:
    row = await _artist(ctx, call)
    return {"artist": serializers.artist(row, row["albums"])}


@endpoint("getAlbum")
async def get_album(ctx: Context, call: Call) -> dict[str, Any]:
    row = await _album(ctx, call)
    return {"album": serializers.album(row, row["songs"])}


@endpoint("getSong")
async def get_song(ctx: Context, call: Call) -> dict[str, Any]:
    row = await run(ctx, store.song_txn, call.viewer, ids.number(call.params.require("id"), ids.TRACK), name="song")
    if row is None:
        raise not_found("Song not found.")
    return {"song": serializers.song(row)}


@endpoint("getMusicDirectory")
async def get_music_directory(ctx: Context, call: Call) -> dict[str, Any]:
    """An artist's directory holds its albums; an album's holds its songs."""
    kind, _ = ids.parse(call.params.require("id"), ids.ARTIST, ids.ALBUM)
    if kind == ids.ARTIST:
        return {"directory": serializers.artist_directory(await _artist(ctx, call))}
    return {"directory": serializers.album_directory(await _album(ctx, call))}


@endpoint("getAlbumInfo", "getAlbumInfo2")
async def get_album_info(ctx: Context, call: Call) -> dict[str, Any]:
    row = await _album(ctx, call)
    return {"albumInfo": {"notes": row["description"] or "", "musicBrainzId": str(row["mbid"]) if row["mbid"] else ""}}


@endpoint("getGenres")
async def get_genres(ctx: Context, call: Call) -> dict[str, Any]:
    rows = await run(ctx, store.genres_txn, call.viewer, name="genres")
    return {"genres": {"genre": [serializers.genre(r) for r in rows]}}
