"""Blocking image work (run it in a thread): checking pictures, writing them, square-cropped resized copies."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from funkwhale import storage

# Pillow format -> (mimetype, file extension) of the pictures we keep.
FORMATS = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "GIF": ("image/gif", ".gif"),
    "WEBP": ("image/webp", ".webp"),
}
MAX_PIXELS = 64_000_000  # larger pictures are refused rather than decoded
RESIZED_TYPE = "image/jpeg"


class InvalidImage(Exception):
    """Bytes that are not a picture we can decode."""


_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def inspect(data: bytes) -> tuple[str, str, str]:
    """(sha256 hex, mimetype, extension) of a picture; InvalidImage when it is not a decodable image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            if image.width * image.height > MAX_PIXELS:
                raise InvalidImage(f"The picture is too large ({image.width}x{image.height})")
            image.verify()
    except _DECODE_ERRORS as e:
        raise InvalidImage(f"The picture cannot be decoded: {e}") from None
    if kind not in FORMATS:
        raise InvalidImage(f"Unsupported picture format: {kind}")
    mimetype, extension = FORMATS[kind]
    return hashlib.sha256(data).hexdigest(), mimetype, extension


def write_atomically(target: Path, data: bytes) -> None:
    """Write `data` to `target` through a temporary file in the same folder and a rename: readers and
    concurrent writers never see a partial file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), storage.file_mode())
            fh.write(data)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def write_once(target: Path, data: bytes) -> None:
    """Write a content-addressed file unless it is already there."""
    if not target.exists():
        write_atomically(target, data)


def square_crop(source: Path, target: Path, size: int) -> None:
    """A JPEG of the centre square of `source`, `size` pixels wide (never enlarged beyond the picture)."""
    try:
        with Image.open(source) as image:
            if image.width * image.height > MAX_PIXELS:
                raise InvalidImage(f"The picture is too large ({image.width}x{image.height})")
            side = min(size, image.width, image.height)
            image.draft("RGB", (side, side))  # JPEG: decode at a reduced scale, much faster for big pictures
            image = ImageOps.exif_transpose(image)
            if image.mode != "RGB":
                image = _flatten(image)
            cropped = ImageOps.fit(image, (side, side), Image.Resampling.LANCZOS)
    except _DECODE_ERRORS as e:
        raise InvalidImage(f"The picture cannot be decoded: {e}") from None
    buffer = io.BytesIO()
    cropped.save(buffer, format="JPEG", quality=88, optimize=True)
    write_atomically(target, buffer.getvalue())


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on a white background (transparent PNG/GIF covers would otherwise turn black)."""
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, "white")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background
