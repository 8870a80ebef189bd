"""Libraries and uploads as their owners manage them.

A library belongs to an actor and has a privacy level. An upload arrives as a multipart body that is
stream-parsed in a thread into a temporary file under MEDIA_ROOT/incoming, moved into MEDIA_ROOT/tracks (or sent to
the media bucket) and recorded (library ownership and quota checked with the user row locked) together with a durable
`music.process_upload` task, which is pushed to Redis once the row has committed. A refused upload leaves
neither a row nor a file.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from twisted.logger import Logger

from funkwhale import cache, storage
from funkwhale.context import Context
from funkwhale.db.rows import required
from funkwhale.errors import Invalid
from funkwhale.music import formats
from funkwhale.music.metadata import read_metadata
from funkwhale.music.models import FILE_NOT_FOUND, Metadata, MetadataError
from funkwhale.music.uploads import quota, store
from funkwhale.music.uploads.multipart import FormError, ReceivedFile, boundary_of, discard, move_into, read_form
from funkwhale.music.visibility import Viewer
from funkwhale.storage import StorageError
from funkwhale.tasks import queue
from funkwhale.threads import run_cpu, run_io

log = Logger()

PROCESS_UPLOAD = "music.process_upload"
PRIVACY_LEVELS = ("me", "instance", "everyone")
IMPORT_STATUSES = ("draft", "pending", "finished", "errored", "skipped")
FILE_FIELD = "audio_file"
REQUIRED = "This field is required."


def _choice(value: Any) -> str:
    return f'"{value}" is not a valid choice.'


def _text(data: dict[str, Any], name: str, max_length: int, errors: dict[str, list[str]]) -> str | None:
    value = data.get(name)
    if not isinstance(value, str):
        errors[name] = ["Not a valid string."]
        return None
    if len(value) > max_length:
        errors[name] = [f"Ensure this field has no more than {max_length} characters."]
        return None
    return value


# --- libraries ---


def clean_library(data: dict[str, Any], partial: bool) -> dict[str, Any]:
    """The library fields to write (name, description, privacy_level); Invalid on bad values."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if "name" in data:
        name = _text(data, "name", 100, errors)
        if name is not None and not name.strip():
            errors["name"] = ["This field may not be blank."]
        elif name is not None:
            values["name"] = name.strip()
    elif not partial:
        errors["name"] = [REQUIRED]
    if "description" in data:
        description = "" if data["description"] is None else _text(data, "description", 5000, errors)
        if description is not None:
            values["description"] = description
    if "privacy_level" in data:
        if data["privacy_level"] in PRIVACY_LEVELS:
            values["privacy_level"] = data["privacy_level"]
        else:
            errors["privacy_level"] = [_choice(data["privacy_level"])]
    if errors:
        raise Invalid(fields=errors)
    return values


async def list_libraries(
    ctx: Context, viewer: Viewer, filters: store.LibraryFilters, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    return await ctx.db.run(store.list_libraries_txn, viewer, filters, limit, offset, desc="libraries.list")


async def get_library(ctx: Context, viewer: Viewer, library_uuid: uuid.UUID, owner_only: bool) -> dict | None:
    """A library the viewer may see (owner_only: one they own), or None."""
    return await ctx.db.run(store.get_library_txn, library_uuid, viewer, owner_only, desc="libraries.get")


async def create_library(ctx: Context, viewer: Viewer, data: dict[str, Any]) -> dict[str, Any]:
    """A new library of the viewer's actor; Invalid for bad fields, or (forbidden) for an account without one."""
    actor_id = viewer.actor_id
    if actor_id is None:
        raise Invalid.forbidden("Your account has no actor to own a library.")
    values = clean_library(data, partial=False)
    library_uuid = uuid.uuid4()
    fid = f"{ctx.settings.base_url}/federation/music/libraries/{library_uuid}"

    def create_txn(txn: Any) -> dict[str, Any]:
        store.insert_library_txn(txn, actor_id, library_uuid, fid, values)
        return required(store.get_library_txn(txn, library_uuid, viewer, owner_only=True), "the new library")

    return await ctx.db.run(create_txn, desc="libraries.create")


async def update_library(
    ctx: Context, viewer: Viewer, library_uuid: uuid.UUID, data: dict[str, Any], partial: bool
) -> dict[str, Any] | None:
    """The library after the change, or None when the viewer owns no such library."""
    values = clean_library(data, partial)

    def update_txn(txn: Any) -> dict[str, Any] | None:
        row = store.get_library_txn(txn, library_uuid, viewer, owner_only=True)
        if row is None or not values:
            return row
        store.update_library_txn(txn, row["id"], values)
        return store.get_library_txn(txn, library_uuid, viewer, owner_only=True)

    row = await ctx.db.run(update_txn, desc="libraries.update")
    if row is not None and "privacy_level" in values:
        await cache.invalidate(ctx, cache.CATALOG)
    return row


async def delete_library(ctx: Context, viewer: Viewer, library_uuid: uuid.UUID) -> bool:
    """Delete an owned library, its uploads and then their files; False when there is no such library."""

    def delete_txn(txn: Any) -> list[str] | None:
        row = store.get_library_txn(txn, library_uuid, viewer, owner_only=True)
        return None if row is None else store.delete_library_txn(txn, row["id"])

    files = await ctx.db.run(delete_txn, desc="libraries.delete")
    if files is None:
        return False
    await cache.invalidate(ctx, cache.CATALOG)
    await remove_media(ctx, files)
    return True


async def remove_media(ctx: Context, names: list[str]) -> None:
    """Delete media files (under MEDIA_ROOT or in the bucket) in a thread; a missing file is not an error, an
    unusable bucket is logged. A picture (under attachments/) takes its cached square crops (`<name>-<size>.jpg`)
    with it."""

    media = storage.media(ctx.settings)

    def remove() -> None:
        if media.remote:
            crops = [crop.name for name in names if name.startswith(storage.ATTACHMENTS + "/")
                     for crop in media.listing(name.rsplit(".", 1)[0] + "-")]  # fmt: skip
            media.delete(names + crops)
            return
        for name in names:
            try:
                path = storage.absolute(ctx.settings, name)
                path.unlink(missing_ok=True)
                if name.startswith(storage.ATTACHMENTS + "/"):
                    for crop in path.parent.glob(f"{path.stem}-*.jpg"):
                        crop.unlink(missing_ok=True)
            except (OSError, ValueError) as e:
                log.warn("could not remove media file {name}: {error}", name=name, error=e)

    if names:
        try:
            await run_io(remove)
        except StorageError as e:
            log.warn("could not remove media files: {error}", error=str(e))


# --- receiving an upload ---


@dataclass(frozen=True)
class UploadFields:
    library: uuid.UUID
    import_status: str
    import_reference: str
    import_metadata: dict[str, Any]
    source: str | None


def _import_fields(data: dict[str, Any], errors: dict[str, list[str]]) -> dict[str, Any]:
    """import_status (draft | pending), import_reference and import_metadata (an object, or one as JSON
    text) among `data`, checked: the ones present."""
    values: dict[str, Any] = {}
    if data.get("import_status"):
        if data["import_status"] in ("draft", "pending"):
            values["import_status"] = data["import_status"]
        else:
            errors["import_status"] = [_choice(data["import_status"])]
    if "import_reference" in data:
        reference = _text(data, "import_reference", 50, errors)
        if reference is not None:
            values["import_reference"] = reference
    metadata = data.get("import_metadata")
    if isinstance(metadata, str) and metadata:
        try:
            metadata = json.loads(metadata)
        except ValueError:
            errors["import_metadata"] = ["Value must be valid JSON."]
            return values
    if metadata not in (None, ""):
        if isinstance(metadata, dict):
            values["import_metadata"] = metadata
        else:
            errors["import_metadata"] = ["Expected a JSON object."]
    return values


def clean_upload_fields(fields: dict[str, str], received: ReceivedFile | None) -> UploadFields:
    """The text fields of an upload form, checked; Invalid naming every bad field."""
    errors: dict[str, list[str]] = {}
    if received is None:
        errors[FILE_FIELD] = ["No file was submitted."]
    library: uuid.UUID | None = None
    if not fields.get("library"):
        errors["library"] = [REQUIRED]
    else:
        try:
            library = uuid.UUID(fields["library"])
        except ValueError:
            errors["library"] = ["Object not found."]
    values = _import_fields(fields, errors)
    source = _text(fields, "source", 500, errors) if fields.get("source") else None
    if source is not None and source.lower().startswith("file:"):
        errors["source"] = ["file:// sources are only for server-side imports."]
    if errors:
        raise Invalid(fields=errors)
    assert library is not None
    return UploadFields(
        library,
        values.get("import_status", "pending"),
        values.get("import_reference") or str(uuid.uuid4()),
        values.get("import_metadata", {}),
        source,
    )


def _extension(filename: str) -> str:
    """The lower-case extension of a client's file name when it is a plain one, else ""."""
    _, dot, ext = filename.rpartition(".")
    ext = ext.lower()
    return ext if dot and ext.isascii() and ext.isalnum() and len(ext) <= 8 else ""


def mimetype_for(received: ReceivedFile) -> str:
    """From the file name's extension (what the importer and players go by), else the part's own audio type."""
    guessed = formats.by_extension(_extension(received.filename))
    if guessed:
        return guessed.mimetype
    return received.content_type if received.content_type.startswith("audio/") else "application/octet-stream"


async def receive_upload(ctx: Context, viewer: Viewer, body: IO[bytes], content_type: bytes | None) -> dict[str, Any]:
    """Read an upload form from `body` (a file, read in a thread), keep its audio file and record the upload
    (pending uploads are queued for import). Invalid (nothing kept) for a bad form, a library the viewer does
    not own, or a file over the viewer's quota. Returns the upload row."""
    try:
        boundary = boundary_of(content_type)
    except FormError as e:
        raise Invalid.field(FILE_FIELD, str(e)) from None
    incoming = await run_cpu(storage.incoming_dir, ctx.settings)
    try:
        form = await run_cpu(read_form, body, boundary, FILE_FIELD, incoming)
    except FormError as e:
        raise Invalid(fields={"non_field_errors": [str(e)]}, code="parse_error") from None
    received = form.file
    if received is not None and received.size == 0 and not received.filename:
        await run_cpu(discard, received)  # an empty file input: browsers send it when nothing is chosen
        received = None
    media = storage.media(ctx.settings)
    final: Path | None = None
    stored: str | None = None
    try:
        fields = clean_upload_fields(form.fields, received)
        assert received is not None
        ext = _extension(received.filename)
        name = storage.new_name(storage.TRACKS, f".{ext}" if ext else "")
        upload_uuid = uuid.uuid4()
        values = {
            "uuid": upload_uuid,
            "fid": f"{ctx.settings.base_url}/federation/music/uploads/{upload_uuid}",
            "audio_file": name,
            "source": fields.source or f"upload://{received.filename}",
            "original_name": received.filename,
            "mimetype": mimetype_for(received),
            "size": received.size,
            "checksum": f"sha256:{received.sha256}",
            "import_status": fields.import_status,
            "import_metadata": fields.import_metadata,
            "import_reference": fields.import_reference,
        }
        default_quota = await quota.default_mb(ctx)
        if media.remote:
            stored = name  # before the upload, so that a failure half-way removes what was written
            await run_io(media.save, name, received.path)  # StorageError: refused, nothing recorded
        else:
            final = storage.absolute(ctx.settings, name)
            await run_cpu(move_into, received, final)
        row, message = await ctx.db.run(
            _record_upload_txn, viewer.user_id, fields.library, values, default_quota, desc="uploads.create"
        )
    except BaseException:
        await run_cpu(_discard_both, received, final)
        if stored is not None:
            await remove_media(ctx, [stored])
        raise
    if message is not None:
        await queue.push(ctx, message)
    return row


def _discard_both(received: ReceivedFile | None, final: Path | None) -> None:
    discard(received)
    if final is not None:
        final.unlink(missing_ok=True)


def _record_upload_txn(
    txn: Any, user_id: int, library_uuid: uuid.UUID, values: dict[str, Any], default_quota: int
) -> tuple[dict[str, Any], queue.Message | None]:
    uploader = store.uploader_txn(txn, user_id, lock=True)
    library_id = None
    if uploader is not None and uploader["actor_id"] is not None:
        library_id = store.owned_library_id_txn(txn, uploader["actor_id"], library_uuid)
    if uploader is None or library_id is None:
        raise Invalid.field("library", "Object not found.")
    try:
        quota.check(
            quota.effective_mb(uploader["upload_quota"], default_quota),
            store.usage_txn(txn, uploader["actor_id"]),
            values["size"],
        )
    except quota.QuotaReached:
        raise Invalid(fields={"non_field_errors": [quota.QUOTA_REACHED]}, code=quota.QUOTA_REACHED) from None
    upload_id = store.insert_upload_txn(txn, {**values, "library_id": library_id})
    message = None
    if values["import_status"] == "pending":
        message = queue.enqueue_durable_txn(txn, PROCESS_UPLOAD, upload_id)
    return required(store.get_upload_by_id_txn(txn, upload_id), "the new upload"), message


# --- managing uploads ---


async def list_uploads(
    ctx: Context, viewer: Viewer, filters: store.UploadFilters, ordering: tuple[str, bool], limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    return await ctx.db.run(store.list_uploads_txn, viewer, filters, ordering, limit, offset, desc="uploads.list")


async def get_upload(ctx: Context, viewer: Viewer, upload_uuid: uuid.UUID) -> dict[str, Any] | None:
    """One of the viewer's uploads, or None."""
    return await ctx.db.run(store.get_upload_txn, viewer, upload_uuid, desc="uploads.get")


async def update_draft(
    ctx: Context, viewer: Viewer, upload_uuid: uuid.UUID, data: dict[str, Any]
) -> dict[str, Any] | None:
    """Change a draft's import_metadata / import_reference, or publish it (import_status pending: queued for
    import). None when the viewer has no such upload; Invalid when it is no longer a draft."""
    errors: dict[str, list[str]] = {}
    values = _import_fields(data, errors)
    if errors:
        raise Invalid(fields=errors)

    def update_txn(txn: Any) -> tuple[dict[str, Any] | None, queue.Message | None]:
        row = store.get_upload_txn(txn, viewer, upload_uuid)
        if row is None:
            return None, None
        if not store.update_draft_txn(txn, row["id"], values):
            raise Invalid.field("import_status", "Only a draft upload can be changed.")
        message = None
        if values.get("import_status") == "pending":
            message = queue.enqueue_durable_txn(txn, PROCESS_UPLOAD, row["id"])
        return store.get_upload_txn(txn, viewer, upload_uuid), message

    row, message = await ctx.db.run(update_txn, desc="uploads.update")
    if message is not None:
        await queue.push(ctx, message)
    return row


async def file_metadata(ctx: Context, viewer: Viewer, upload_uuid: uuid.UUID) -> Metadata:
    """The tags of the audio file of one of the viewer's uploads (read in a thread); Invalid (not_found) when they
    have no such upload or its file is not here (a remote upload, a file gone), invalid when it cannot be read."""
    row = await ctx.db.run(store.get_upload_txn, viewer, upload_uuid, desc="uploads.get")
    if row is None or not row["audio_file"]:
        raise Invalid("Not found.", kind="not_found")
    try:
        return await run_cpu(read_metadata, storage.media(ctx.settings).file(row["audio_file"]))
    except MetadataError as e:
        if e.code == FILE_NOT_FOUND:
            raise Invalid(e.detail, code=e.code, kind="not_found") from None
        raise Invalid(e.detail, code=e.code) from None


async def delete_uploads(ctx: Context, viewer: Viewer, uuids: list[uuid.UUID] | None) -> int:
    """Delete the viewer's uploads among `uuids` (None: all of them), then their files; how many."""
    count, files = await ctx.db.run(store.delete_owned_uploads_txn, viewer.actor_id, uuids, desc="uploads.delete")
    if count:
        await cache.invalidate(ctx, cache.CATALOG)
    await remove_media(ctx, files)
    return count


async def requeue_uploads(
    ctx: Context, viewer: Viewer, uuids: list[uuid.UUID] | None, from_statuses: tuple[str, ...]
) -> int:
    """Set the viewer's uploads (among `uuids`, None: all) that are in `from_statuses` back to pending and
    queue their import again (relaunch_import: errored, skipped, pending; publish: draft); how many."""

    actor_id = viewer.actor_id
    if actor_id is None:
        return 0  # an account without an actor has no uploads

    def requeue_txn(txn: Any) -> list[queue.Message]:
        ids = store.requeue_uploads_txn(txn, actor_id, uuids, from_statuses)
        return [queue.enqueue_durable_txn(txn, PROCESS_UPLOAD, upload_id) for upload_id in ids]

    messages = await ctx.db.run(requeue_txn, desc="uploads.requeue")
    await queue.push(ctx, *messages)
    return len(messages)
