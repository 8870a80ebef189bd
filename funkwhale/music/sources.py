"""An upload's `source`: the URI of the file an in-place import references (`file://`), written and read here only.

Paths are percent-encoded into the URI, so a file named `What?.mp3`, `A#1.mp3` or `100%25 Pure.mp3` (or with
bytes that are not UTF-8) reads back as the same path.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

FILE_SCHEME = "file://"


def file_uri(path: str | Path) -> str:
    """The `file://` URI of an absolute path."""
    return Path(path).as_uri()


def local_path(source: str | None) -> Path | None:
    """The path a `file://` source names, or None for any other source (uploads, remote files)."""
    if not source or not source.startswith(FILE_SCHEME):
        return None
    return Path(os.fsdecode(unquote_to_bytes(urlsplit(source).path)))


def local_name(source: str | None) -> str | None:
    """The file name (last path segment) a `file://` source names, or None for any other source: what a file's
    extension is read from, without building its path (a 500-song page asks it 500 times)."""
    if not source or not source.startswith(FILE_SCHEME):
        return None
    return unquote(source.rpartition("/")[2])
