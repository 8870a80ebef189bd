"""Inbound music activities: Create / Update / Delete of an Audio, Update / Delete of a Library, Update of a
Track, Album or Artist. Registered with routing.inbound (HANDLER_MODULES).

Origin rules: an Audio is stored only into a known remote library whose owner is on the sender's server (and the
Audio's id, library and file are on that server too, see ingest.parse_audio); a Delete removes only uploads of the
sender's server's libraries; a Library is changed or removed only by its owner's server; a Track, Album or Artist
only by the server its id is on (its owner or that server's service actor), and only when we know it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from funkwhale.activitypub import ingest, ingest_store
from funkwhale.activitypub.remote_actors import same_origin
from funkwhale.activitypub.routing import inbound
from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.music.uploads import remove_media


def _object(activity: dict[str, Any]) -> dict[str, Any]:
    obj = activity.get("object")
    if not isinstance(obj, dict):
        raise Invalid(detail="the object must be embedded", code="invalid_document")
    return obj


def _ids(obj: dict[str, Any]) -> list[str]:
    """The object's id, or ids (a Delete of several Audio lists them)."""
    ids = obj.get("id")
    ids = ids if isinstance(ids, list) else [ids]
    return [fid for fid in ids if isinstance(fid, str)][:1000]


async def _senders_library(ctx: Context, fid: str, sender: dict[str, Any]) -> dict[str, Any]:
    """The known remote library `fid`, whose owner is on the sender's server."""
    library = await ctx.db.run(ingest_store.library_by_fid_txn, fid, desc="inbox.library")
    if library is None or library["is_local"]:
        raise Invalid(detail=f"unknown library {fid}", code="not_found", kind="not_found")
    if not same_origin(library["actor_fid"], sender["fid"]):
        raise Invalid(detail="only the library owner's server changes it", code="forbidden", kind="forbidden")
    return library


@inbound("Create", "Audio")
@inbound("Update", "Audio")
async def on_audio(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    audio = ingest.parse_audio(_object(activity))
    library = await _senders_library(ctx, audio.library_fid, sender)
    await ingest.ingest_audio(ctx, _object(activity), library)


@inbound("Delete", "Audio")
async def on_delete_audio(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    fids = [fid for fid in _ids(_object(activity)) if same_origin(fid, sender["fid"])]
    if fids:
        _, files = await ctx.db.run(
            ingest_store.delete_uploads_of_domain_txn, fids, sender["domain"], desc="inbox.delete_audio"
        )
        await remove_media(ctx, files)


@inbound("Update", "Library")
async def on_update_library(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    parsed = ingest.parse_library(_object(activity))
    library = await _senders_library(ctx, parsed.fid, sender)
    if parsed.actor_fid != library["actor_fid"]:
        raise Invalid(detail="a library does not change owner", code="forbidden", kind="forbidden")
    await ingest.store_library(ctx, parsed, library["actor_id"])


@inbound("Delete", "Library")
async def on_delete_library(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    for fid in _ids(_object(activity))[:1]:
        library = await _senders_library(ctx, fid, sender)
        files = await ctx.db.run(ingest_store.delete_library_txn, library["id"], desc="inbox.delete_library")
        await remove_media(ctx, files)


_PARSERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "Track": ingest.parse_track,
    "Album": ingest.parse_album,
    "Artist": ingest.parse_artist,
}


async def _update_catalog(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    obj = _object(activity)
    parsed = _PARSERS[obj["type"]](obj)
    if not same_origin(parsed.fid, sender["fid"]):
        raise Invalid(detail="only the object's server updates it", code="forbidden", kind="forbidden")
    await ctx.db.run(
        ingest_store.update_catalog_object_txn,
        obj["type"].lower(),
        parsed,
        sender["fid"],
        ctx.settings.base_url,
        sender["id"],
        desc="inbox.update_catalog",
    )


for _kind in _PARSERS:
    inbound("Update", _kind)(_update_catalog)
