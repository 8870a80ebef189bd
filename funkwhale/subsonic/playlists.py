"""Playlists: getPlaylists, getPlaylist, createPlaylist, updatePlaylist, deletePlaylist.

The REST API's playlists with its rules (funkwhale.playlists): a caller sees their own and the `instance` /
`everyone` ones of others, and changes only their own (50 for another's, 70 for one they cannot see). Subsonic's
`public` is a privacy level other than `me`; entries are the songs the caller may play, and songIndexToRemove
counts those entries.
"""

from __future__ import annotations

from typing import Any

from funkwhale import playlists
from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.params import BIGINT_MAX, BadValue, OutOfRange, parse_int
from funkwhale.playlists import store as playlists_store
from funkwhale.playlists.cached import playlist_view
from funkwhale.subsonic import ids, serializers
from funkwhale.subsonic.browsing import run
from funkwhale.subsonic.errors import bad_value, missing, not_found
from funkwhale.subsonic.registry import Call, endpoint
from funkwhale.subsonic.render import content_type, envelope, iso, render
from funkwhale.subsonic.userdata import store
from funkwhale.threads import run_cpu


def playlist(row: dict[str, Any], me: int, entries: list[tuple[Any, ...]] | None = None) -> dict[str, Any]:
    """A playlist row (funkwhale.playlists.store) as Subsonic's Playlist, with its `entry` songs when given."""
    stats = row["stats"]
    out = {
        "id": ids.make(ids.PLAYLIST, row["id"]),
        "name": row["name"],
        "comment": row.get("description") or "",
        "owner": row["user"]["username"],
        "public": row["privacy_level"] != "me",
        "songCount": stats["playable"],
        "duration": stats["duration"],
        "created": iso(row["creation_date"]),
        "changed": iso(row["modification_date"]),
        "coverArt": ids.make(ids.PLAYLIST, row["id"]) if row["album_covers"] else None,
        "readonly": row["user"]["id"] != me,
    }
    if entries is not None:
        out["entry"] = serializers.songs(entries)
    return out


def _name(value: str | None) -> str | None:
    """A playlist name checked by the playlists' own rules (error 0 when refused)."""
    return None if value is None else playlists.clean_changes({"name": value}, partial=True)["name"]


def _index(value: str) -> int:
    """A songIndexToRemove: ASCII digits (error 0 otherwise); one beyond a bigint names no entry (70 later)."""
    if value.strip().startswith(("+", "-")):
        raise bad_value("songIndexToRemove", value)
    try:
        return parse_int(value)
    except OutOfRange:
        return BIGINT_MAX
    except BadValue:
        raise bad_value("songIndexToRemove", value) from None


def _songs(call: Call, name: str) -> list[int]:
    return [ids.number(value, ids.TRACK) for value in call.params.all(name)]


@endpoint("getPlaylists", scope="read:playlists")
async def get_playlists(ctx: Context, call: Call) -> dict[str, Any]:
    rows = await run(ctx, store.playlists_txn, call.viewer, call.params.get("username"), name="playlists")
    return {"playlists": {"playlist": [playlist(r, call.user.id) for r in rows]}}


@endpoint("getPlaylist", scope="read:playlists")
async def get_playlist(ctx: Context, call: Call) -> bytes:
    """The whole answer, rendered in the CPU pool (up to 1,000 songs) and cached in each format asked."""
    number = ids.number(call.params.require("id"), ids.PLAYLIST)
    fmt, callback = (call.params.get("f") or "xml").lower(), call.params.get("callback")

    def rendered(row: dict[str, Any]) -> bytes:
        return render(envelope({"playlist": playlist(row, call.user.id, row["entries"])}), fmt, callback)[0]

    async def compute() -> bytes:
        return await run_cpu(rendered, await run(ctx, store.playlist_txn, call.viewer, number, name="playlist"))

    text = await playlist_view(ctx, call.viewer, number, f"subsonic:{fmt}:{callback}", compute)
    if text is None:
        raise not_found("Playlist not found.")
    call.request.setHeader(b"Content-Type", content_type(fmt, callback))
    return text


@endpoint("createPlaylist", scope="write:playlists")
async def create_playlist(ctx: Context, call: Call) -> dict[str, Any]:
    """A new playlist (`name`, `songId`...) or, with `playlistId`, that playlist's songs replaced."""
    replace = call.params.get("playlistId")
    name = _name(call.params.get("name"))
    if replace is None and name is None:
        raise missing("name")
    number = ids.number(replace, ids.PLAYLIST) if replace is not None else None
    max_tracks = await instance_settings.get(ctx, "playlists__max_tracks")
    row = await run(
        ctx, store.create_playlist_txn, call.viewer, name, _songs(call, "songId"), max_tracks, number,
        name="create_playlist",
    )  # fmt: skip
    return {"playlist": playlist(row, call.user.id, row["entries"])}


@endpoint("updatePlaylist", scope="write:playlists")
async def update_playlist(ctx: Context, call: Call) -> dict[str, Any]:
    number = ids.number(call.params.require("playlistId"), ids.PLAYLIST)
    params = call.params
    changes: dict[str, str] = {}
    name = _name(params.get("name"))
    if name is not None:
        changes["name"] = name
    comment = params.get("comment")
    if comment is not None:
        changes["description"] = comment
    public = params.bool("public") if "public" in params else None
    remove = []
    for value in params.all("songIndexToRemove"):
        remove.append(_index(value))
    max_tracks = await instance_settings.get(ctx, "playlists__max_tracks")
    edit = store.PlaylistEdit(changes, public, remove, _songs(call, "songIdToAdd"))
    await run(ctx, store.update_playlist_txn, call.viewer, number, edit, max_tracks, name="update_playlist")
    return {}


@endpoint("deletePlaylist", scope="write:playlists")
async def delete_playlist(ctx: Context, call: Call) -> dict[str, Any]:
    number = ids.number(call.params.require("id"), ids.PLAYLIST)
    await run(ctx, playlists_store.delete_txn, call.viewer, number, name="delete_playlist")
    return {}
