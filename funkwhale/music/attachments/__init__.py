"""Attachments: pictures (cover art) stored once per content, served whole or as cached square crops.

Files are content-addressed in the media storage (MEDIA_ROOT or the bucket): `attachments/ab/cd/<sha256>.<ext>`; a
resized copy sits beside its original as `<sha256>-<pixels>.jpg`, made once in a thread on first request (by
whichever process is asked first) and reused afterwards. Crops come in
CROP_SIZES only (any other size asked is rounded to the nearest), and at most RESIZES_AT_ONCE are made at a time.
"""

from __future__ import annotations

import io
import uuid as uuid_module
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from twisted.internet.defer import DeferredSemaphore

from funkwhale import cache, storage
from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.music.attachments import crops, images, store
from funkwhale.music.attachments.images import ImageTooLarge, InvalidImage
from funkwhale.music.models import Picture
from funkwhale.music.uploads.multipart import FormError, boundary_of, discard, read_form
from funkwhale.storage import MediaMissing, MediaStore
from funkwhale.storage.local import write_atomically
from funkwhale.threads import run_cpu, run_io

__all__ = [
    "SIZES",
    "AttachmentNotFound",
    "ImageTooLarge",
    "InvalidImage",
    "Rendition",
    "attachment_json",
    "get_attachment",
    "receive_picture",
    "rendition",
    "resized_path",
    "store_picture",
    "store_picture_file",
]

# Funkwhale's named renditions (`?next=`): None is the original picture, else a square crop of that many pixels.
SIZES: dict[str, int | None] = {
    "original": None,
    "small_square_crop": 50,
    "medium_square_crop": 200,
    "large_square_crop": 600,
}
# The renditions an attachment's `urls` list, as Funkwhale 1.4 does (small_square_crop is served, not listed).
LISTED_SIZES = ("original", "medium_square_crop", "large_square_crop")
# Every square crop made, in pixels (Funkwhale's three, and sizes Subsonic apps ask for).
CROP_SIZES = (50, 100, 200, 300, 600, 1200)
MAX_PICTURE_BYTES = 16 * 1024 * 1024
# Decoding a picture takes up to 4 bytes per pixel (images.MAX_PIXELS): a few at a time, the rest wait their turn.
RESIZES_AT_ONCE = 2
NOT_A_PICTURE = "Upload a valid image: a JPEG, PNG, GIF or WebP picture."
_resizing = DeferredSemaphore(RESIZES_AT_ONCE)


class AttachmentNotFound(Exception):
    """No such attachment, or its file is not stored here."""


async def store_picture(ctx: Context, picture: Picture, actor_id: int | None = None) -> int:
    """Store a picture and return its attachment id; the same bytes stored twice give the same attachment.

    Raises InvalidImage when the bytes are not a JPEG, PNG, GIF or WebP picture that can be decoded.
    """
    return (await _store(ctx, picture, actor_id))["id"]


async def _store(ctx: Context, picture: Picture, actor_id: int | None) -> dict[str, Any]:
    if len(picture.data) > MAX_PICTURE_BYTES:
        raise InvalidImage("The picture is too large")
    checksum, mimetype, extension = await run_cpu(images.inspect, picture.data)
    relative = storage.chunked_name(storage.ATTACHMENTS, checksum, extension)
    await run_io(storage.media(ctx.settings).write_once, relative, picture.data, mimetype)
    return await ctx.db.run(
        store.insert_or_get_txn, checksum, relative, mimetype, len(picture.data), actor_id, desc="store_picture"
    )


async def receive_picture(ctx: Context, body: IO[bytes], content_type: bytes | None, actor_id: int) -> dict[str, Any]:
    """Store the picture sent as the `file` part of a multipart form `body` (read in a thread) and return its
    attachment row. Invalid (`file`) for a body that is not such a form or a file that is no picture."""
    try:
        return await _receive_picture(ctx, body, content_type, actor_id)
    except (FormError, ImageTooLarge) as e:
        raise Invalid.field("file", str(e)) from None
    except InvalidImage:
        raise Invalid.field("file", NOT_A_PICTURE) from None


async def _receive_picture(ctx: Context, body: IO[bytes], content_type: bytes | None, actor_id: int) -> dict[str, Any]:
    boundary = boundary_of(content_type)
    incoming = await run_cpu(storage.incoming_dir, ctx.settings)
    form = await run_cpu(read_form, body, boundary, "file", incoming)
    if form.file is None or form.file.size == 0:
        await run_cpu(discard, form.file)
        raise FormError("No picture was sent in the `file` field.")
    try:
        data = await run_cpu(_read_picture, form.file.path)
    finally:
        await run_cpu(discard, form.file)
    return await _store(ctx, Picture(data, form.file.content_type), actor_id)


async def store_picture_file(ctx: Context, path: str | Path, actor_id: int | None = None) -> int:
    """Store a picture file (such as a `cover.jpg` beside in-place audio files); see store_picture."""
    data = await run_cpu(_read_picture, Path(path))
    return await store_picture(ctx, Picture(data, ""), actor_id)


def _read_picture(path: Path) -> bytes:
    if path.stat().st_size > MAX_PICTURE_BYTES:
        raise InvalidImage("The picture is too large")
    return path.read_bytes()


async def get_attachment(ctx: Context, attachment_uuid: str) -> dict[str, Any] | None:
    """The attachment row for a public uuid (None for an unknown or malformed uuid)."""
    try:
        canonical = str(uuid_module.UUID(attachment_uuid))
    except ValueError:
        return None
    return await ctx.db.run(store.get_by_uuid_txn, canonical, desc="get_attachment")


async def delete_attachment(ctx: Context, attachment_uuid: str, actor_id: int) -> bool:
    """Delete a picture the actor sent, and its file; False when they sent no such picture."""
    from funkwhale.music.uploads import remove_media  # here: music.uploads imports this package

    try:
        canonical = str(uuid_module.UUID(attachment_uuid))
    except ValueError:
        return False
    deleted, files = await ctx.db.run(store.delete_owned_txn, canonical, actor_id, desc="attachments.delete")
    if deleted:
        await cache.invalidate(ctx, cache.CATALOG)
        await remove_media(ctx, files)
    return deleted


def attachment_json(row: dict[str, Any], base_url: str) -> dict[str, Any]:
    """Funkwhale's Attachment JSON; `urls` point at the proxy route, one per named rendition."""
    proxy = f"{base_url.rstrip('/')}/api/v1/attachments/{row['uuid']}/proxy?next="
    urls = {"source": row["url"]}
    for name in LISTED_SIZES:  # a loop, not a comprehension: a page renders hundreds (an artists page 250)
        urls[name] = proxy + name
    return {
        "uuid": str(row["uuid"]),
        "size": row["size"],
        "mimetype": row["mimetype"],
        "creation_date": row["creation_date"],
        "urls": urls,
    }


def crop_size(size: int) -> int:
    """The one of CROP_SIZES nearest to `size` (the smaller of two as near)."""
    return min(CROP_SIZES, key=lambda crop: (abs(crop - size), crop))


@dataclass(frozen=True)
class Rendition:
    """A picture to send: `name` in the media storage, `path` its file (None when it is in the bucket)."""

    name: str
    path: Path | None
    mimetype: str


async def rendition(ctx: Context, row: dict[str, Any], size: int | None) -> Rendition:
    """An attachment's original (size None) or its square crop of about `size` pixels (crop_size; never enlarged
    beyond the picture), made and cached on first use (beside the original, under MEDIA_ROOT or in the bucket).

    Raises AttachmentNotFound when the file is missing, InvalidImage when the original cannot be decoded.
    """
    name = row["file"] or ""
    if ctx.settings.media_bucket:
        if not name.startswith(storage.ATTACHMENTS + "/"):
            raise AttachmentNotFound(str(row["uuid"]))  # a remote picture
        if size is None:
            return Rendition(name, None, row["mimetype"])
        size = crop_size(size)
        target = crops.crop_name(name, size)
        async with _resizing:
            await _ensure_bucket_crop(storage.media(ctx.settings), name, target, size)
        return Rendition(target, None, images.RESIZED_TYPE)
    try:
        original = storage.absolute(ctx.settings, name)
    except ValueError:  # no file here (a remote picture), or a name outside MEDIA_ROOT
        raise AttachmentNotFound(str(row["uuid"])) from None
    if size is None:
        if not await run_io(original.is_file):
            raise AttachmentNotFound(str(row["uuid"]))
        return Rendition(name, original, row["mimetype"])
    size = crop_size(size)
    crop = crops.crop_name(name, size)
    crop_path = storage.absolute(ctx.settings, crop)
    async with _resizing:
        await run_cpu(_ensure_crop, original, crop_path, size)
    return Rendition(crop, crop_path, images.RESIZED_TYPE)


def _ensure_crop(original: Path, target: Path, size: int) -> None:
    if target.is_file():
        crops.touch_served(target)
        return
    if not original.is_file():
        raise AttachmentNotFound(original.name)
    write_atomically(target, images.square_crop(original, size))


async def _ensure_bucket_crop(store: MediaStore, original: str, target: str, size: int) -> None:
    """Make the crop from the original in the bucket unless it is there (any process may have made it): the
    bucket's calls in the I/O pool, the resizing in the CPU pool."""
    if await run_io(store.exists, target):
        return
    try:
        data = await run_io(store.read_bytes, original)  # at most MAX_PICTURE_BYTES
    except MediaMissing:
        raise AttachmentNotFound(original) from None
    cropped = await run_cpu(images.square_crop, io.BytesIO(data), size)
    await run_io(store.write_once, target, cropped, images.RESIZED_TYPE)


async def resized_path(ctx: Context, attachment_uuid: str, size: int | None) -> Rendition:
    """(file, mimetype) of an attachment by uuid, at any size (Subsonic getCoverArt?size=N); see rendition."""
    row = await get_attachment(ctx, attachment_uuid)
    if row is None:
        raise AttachmentNotFound(attachment_uuid)
    return await rendition(ctx, row, size)
