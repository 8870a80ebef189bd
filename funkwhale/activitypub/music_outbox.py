"""Outbound music activities, to the approved remote followers of a local library (outbox.send):
Create Audio when an upload finishes importing (the task `federation.publish_upload`, queued by the importer),
Delete Audio when uploads are deleted (by their owner, or by the re-scan when their file vanished: the task
`federation.send_upload_deletes`, queued with the deletion), Update / Delete Library when a library changes or goes.

Deletions are announced before the rows go (the followers are read from the library's follows)."""

from __future__ import annotations

import uuid
from typing import Any

from funkwhale.activitypub import music_store, outbox
from funkwhale.activitypub.music_documents import library_document, upload_document
from funkwhale.context import Context
from funkwhale.music.importer.pipeline import PUBLISH_UPLOAD
from funkwhale.music.importer.store import followed_uploads_txn
from funkwhale.tasks.registry import task

SEND_UPLOAD_DELETES = "federation.send_upload_deletes"


@task(PUBLISH_UPLOAD, max_retries=3, timeout=120)
async def publish_upload(ctx: Context, upload_id: int) -> None:
    """Send Create Audio of a finished upload to its library's remote followers."""
    row = await ctx.db.run(music_store.upload_by_id_txn, upload_id, desc="publish.upload")
    if row is None:
        return
    audio = upload_document(row, ctx.settings.base_url)
    await outbox.send(
        ctx, {"type": "Create", "actor": row["actor_fid"], "object": audio}, library_followers=row["library_id"]
    )


async def announce_upload_deletes(ctx: Context, actor_id: int | None, uuids: list[uuid.UUID] | None) -> None:
    """Send Delete Audio for the actor's uploads among `uuids` (None: all) to their libraries' remote followers;
    call it before deleting them."""
    if actor_id is None:
        return
    for group in await ctx.db.run(followed_uploads_txn, actor_id, uuids, desc="publish.deletes"):
        await send_upload_deletes(ctx, group["library_id"], group["actor_fid"], group["fids"])


@task(SEND_UPLOAD_DELETES, max_retries=3, timeout=120)
async def send_upload_deletes(ctx: Context, library_id: int, actor_fid: str, fids: list[str]) -> None:
    """Send Delete Audio of the library's uploads `fids` (already deleted, or about to be) to its remote followers."""
    activity = {"type": "Delete", "actor": actor_fid, "object": {"type": "Audio", "id": fids}}
    await outbox.send(ctx, activity, library_followers=library_id)


async def _announce_library(ctx: Context, actor_id: int | None, library_uuid: uuid.UUID, kind: str) -> None:
    if actor_id is None:
        return
    library = await ctx.db.run(music_store.followed_library_txn, actor_id, library_uuid, desc="publish.library")
    if library is None:
        return
    document: dict[str, Any] = {k: v for k, v in library_document(library).items() if k != "@context"}
    if kind == "Delete":
        document = {"type": "Library", "id": library["fid"]}
    activity = {"type": kind, "actor": library["actor_fid"], "object": document}
    await outbox.send(ctx, activity, library_followers=library["id"])


async def announce_library_update(ctx: Context, actor_id: int | None, library_uuid: uuid.UUID) -> None:
    """Send Update Library (after the change) to its remote followers."""
    await _announce_library(ctx, actor_id, library_uuid, "Update")


async def announce_library_delete(ctx: Context, actor_id: int | None, library_uuid: uuid.UUID) -> None:
    """Send Delete Library to its remote followers; call it before deleting it."""
    await _announce_library(ctx, actor_id, library_uuid, "Delete")
