"""Bookmarks (getBookmarks, createBookmark, deleteBookmark) and the saved play queue (getPlayQueue,
savePlayQueue): positions in milliseconds, songs the caller may play, the queue's `changedBy` is the client `c`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from funkwhale.context import Context
from funkwhale.subsonic import ids, serializers
from funkwhale.subsonic.browsing import run
from funkwhale.subsonic.registry import Call, endpoint
from funkwhale.subsonic.render import iso
from funkwhale.subsonic.userdata import store

MAX_COMMENT = 1000
NO_QUEUE: dict[str, Any] = {"current_track_id": None, "position": 0, "changed": datetime.fromtimestamp(0, UTC),
                             "changed_by": "", "songs": []}  # fmt: skip


@endpoint("getBookmarks", scope="read:listenings")
async def get_bookmarks(ctx: Context, call: Call) -> dict[str, Any]:
    rows = await run(ctx, store.bookmarks_txn, call.viewer, name="bookmarks")
    marks = [
        {
            "position": r["position"],
            "username": call.user.username,
            "comment": r["comment"],
            "created": iso(r["creation_date"]),
            "changed": iso(r["modification_date"]),
            "entry": serializers.song(r["song"]),
        }
        for r in rows
    ]
    return {"bookmarks": {"bookmark": marks}}


@endpoint("createBookmark", scope="write:listenings")
async def create_bookmark(ctx: Context, call: Call) -> dict[str, Any]:
    """Create or move the caller's bookmark of a song."""
    track = ids.number(call.params.require("id"), ids.TRACK)
    call.params.require("position")
    position = call.params.int("position", minimum=0)
    comment = (call.params.get("comment") or "")[:MAX_COMMENT]
    await run(ctx, store.save_bookmark_txn, call.viewer, track, position, comment, name="create_bookmark")
    return {}


@endpoint("deleteBookmark", scope="write:listenings")
async def delete_bookmark(ctx: Context, call: Call) -> dict[str, Any]:
    """Remove the caller's bookmark of a song (none is fine)."""
    track = ids.number(call.params.require("id"), ids.TRACK)
    await run(ctx, store.delete_bookmark_txn, call.viewer, track, name="delete_bookmark")
    return {}


@endpoint("getPlayQueue", scope="read:listenings")
async def get_play_queue(ctx: Context, call: Call) -> dict[str, Any]:
    """The saved queue; an empty one (changed at the epoch) when none was saved."""
    row = await run(ctx, store.play_queue_txn, call.viewer, name="play_queue") or NO_QUEUE
    return {
        "playQueue": {
            "current": ids.make(ids.TRACK, row["current_track_id"]),
            "position": row["position"],
            "username": call.user.username,
            "changed": iso(row["changed"]),
            "changedBy": row["changed_by"],
            "entry": serializers.songs(row["songs"]),
        }
    }


@endpoint("savePlayQueue", scope="write:listenings")
async def save_play_queue(ctx: Context, call: Call) -> dict[str, Any]:
    """Replace the saved queue by the `id`s (in order, repeats kept); no `id` clears it."""
    tracks = [ids.number(value, ids.TRACK) for value in call.params.all("id")]
    current = call.params.get("current")
    current_id = ids.number(current, ids.TRACK) if current else (tracks[0] if tracks else None)
    position = call.params.int("position", 0, minimum=0)
    await run(
        ctx, store.save_play_queue_txn, call.viewer, tracks, current_id, position, call.client, name="save_play_queue"
    )
    return {}
