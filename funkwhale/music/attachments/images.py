"""Blocking image work (run it in a thread): checking pictures, square-cropped resized copies.

Memory is what a picture costs once decoded (4 bytes a pixel), not its file size: a 258 KB PNG may hold 8000x8000
pixels, 256 MB. Pictures above MAX_PIXELS are refused when stored and never decoded when cropped; a crop decodes a
JPEG at a reduced scale (draft), resizes the centre square in the picture's own mode (reducing by whole factors
first), and only converts the small result to RGB.

Pillow is imported on first use (`_pillow`): about 7 MiB that a process handling no picture never loads.
"""

from __future__ import annotations

import functools
import hashlib
import io
import warnings
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

# Pillow format -> (mimetype, file extension) of the pictures we keep.
FORMATS = {
    "JPEG": ("image/jpeg", ".jpg"),
    "PNG": ("image/png", ".png"),
    "GIF": ("image/gif", ".gif"),
    "WEBP": ("image/webp", ".webp"),
}
MAX_PIXELS = 4096 * 4096  # larger pictures are refused rather than decoded (a cover needs far less)
RESIZED_TYPE = "image/jpeg"
TOO_LARGE = f"The picture is too large: more than {MAX_PIXELS // 1_000_000} megapixels"
# Modes Pillow resamples as they are; others (palette, 1-bit, 16-bit) are converted, the square only.
_RESAMPLED_MODES = frozenset({"RGB", "RGBA", "L", "LA", "CMYK"})
_REDUCING_GAP = 2.0


class InvalidImage(Exception):
    """Bytes that are not a picture we can decode."""


class ImageTooLarge(InvalidImage):
    """A picture with more pixels than MAX_PIXELS."""


@functools.cache
def _pillow() -> tuple[ModuleType, ModuleType, tuple[type[Exception], ...]]:
    """(PIL.Image, PIL.ImageOps, the exceptions of a picture that cannot be decoded), imported once, with our
    limit: Pillow refuses to open more than twice it (DecompressionBombError); between once and twice it only
    warns, and we refuse those ourselves."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    return Image, ImageOps, (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def _check_pixels(image: Image.Image) -> None:
    if image.width * image.height > MAX_PIXELS:
        raise ImageTooLarge(f"{TOO_LARGE} ({image.width}x{image.height}).")


def inspect(data: bytes) -> tuple[str, str, str]:
    """(sha256 hex, mimetype, extension) of a picture; InvalidImage when it is not a decodable image."""
    pil, _, decode_errors = _pillow()
    try:
        with pil.open(io.BytesIO(data)) as image:
            kind = image.format
            _check_pixels(image)
            image.verify()
    except pil.DecompressionBombError:
        raise ImageTooLarge(f"{TOO_LARGE}.") from None
    except decode_errors as e:
        raise InvalidImage(f"The picture cannot be decoded: {e}") from None
    if kind not in FORMATS:
        raise InvalidImage(f"Unsupported picture format: {kind}")
    mimetype, extension = FORMATS[kind]
    return hashlib.sha256(data).hexdigest(), mimetype, extension


def square_crop(source: Path | IO[bytes], size: int) -> bytes:
    """A JPEG of the centre square of `source` (a file, or a file object), `size` pixels wide (never enlarged
    beyond the picture)."""
    pil, ops, decode_errors = _pillow()
    try:
        with pil.open(source) as image:
            _check_pixels(image)
            side = min(size, image.width, image.height)
            image.draft("RGB", (side, side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale when that still covers `side`
            ops.exif_transpose(image, in_place=True)
            short = min(image.width, image.height)
            left, top = (image.width - short) // 2, (image.height - short) // 2
            box: tuple[int, int, int, int] | None = (left, top, left + short, top + short)
            picture: Image.Image = image
            if image.mode not in _RESAMPLED_MODES:
                picture, box = image.crop(box).convert("RGBA"), None
            square = picture.resize((side, side), pil.Resampling.LANCZOS, box=box, reducing_gap=_REDUCING_GAP)
            if square.mode != "RGB":
                square = _flatten(square)
    except decode_errors as e:
        raise InvalidImage(f"The picture cannot be decoded: {e}") from None
    buffer = io.BytesIO()
    square.save(buffer, format="JPEG", quality=88, optimize=True)
    return buffer.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on a white background (transparent PNG/GIF covers would otherwise turn black); for small images."""
    rgba = image.convert("RGBA")
    background = _pillow()[0].new("RGB", rgba.size, "white")
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background
