"""What a tag-reading process runs (music/importer/readers.py): a file's tags or its upload's error. It imports
neither Twisted nor the database, so that the forkserver preloads it with mutagen and a reading process forked
from it is ready at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from funkwhale.music.metadata import find_folder_cover, read_metadata
from funkwhale.music.models import STORAGE_UNAVAILABLE, UNKNOWN_ERROR, Metadata, MetadataError
from funkwhale.storage.base import StorageError, StoredFile


@dataclass(frozen=True)
class Read:
    """A file's tags (`meta`, and `folder_cover` for an in-place file without a picture) or its `error`
    (code, detail)."""

    meta: Metadata | None = None
    folder_cover: str | None = None
    error: tuple[str, str] | None = None


def read_one(path: Path | StoredFile, in_place: bool) -> Read:
    """Read a file's tags (blocking; in a reading process or a thread). A bucket object travels to a reading
    process as its name and client settings (it pickles) and is read there by ranges."""
    try:
        meta = read_metadata(path)
    except MetadataError as e:
        return Read(error=(e.code, e.detail))
    except StorageError as e:
        return Read(error=(STORAGE_UNAVAILABLE, str(e)[:500]))
    except Exception as e:
        return Read(error=(UNKNOWN_ERROR, f"{type(e).__name__}: {e}"[:500]))
    cover = find_folder_cover(path) if in_place and meta.cover is None and isinstance(path, Path) else None
    return Read(meta=meta, folder_cover=str(cover) if cover is not None else None)


def read_chunk(jobs: list[tuple[Path | StoredFile, bool]]) -> list[Read]:
    """read_one of each (file, in place)."""
    return [read_one(path, in_place) for path, in_place in jobs]
