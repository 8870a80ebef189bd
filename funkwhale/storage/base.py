"""The media storage interface: named objects (`tracks/ab/cd/<uuid>.mp3`, `attachments/...`) in MEDIA_ROOT or in
an S3-compatible bucket. Every method blocks: call it in a thread (`threads.run_io`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeAlias

if TYPE_CHECKING:
    from funkwhale.storage.s3 import BucketFile


class StorageError(Exception):
    """The media storage cannot be used (a bucket missing or unreachable, credentials refused); the message says
    which and why, for the operator."""


class MediaMissing(StorageError):
    """The object is not in the storage."""


@dataclass(frozen=True)
class Entry:
    """A stored object as a listing gives it."""

    name: str
    modified: float  # seconds since the epoch
    size: int


# What the tag reader opens: a file, or a bucket object (read-only, by ranges), both with `name`, `stem`, `stat()`
# and `open("rb")`.
StoredFile: TypeAlias = "Path | BucketFile"


class MediaStore(Protocol):
    """Where media live. `remote` is True for a bucket (no local path: serve through `url`)."""

    remote: bool

    def save(self, name: str, path: Path, move: bool = True) -> None:
        """Store the file at `path` as `name` (streamed, never whole in memory); `move` removes `path` after."""

    def write_once(self, name: str, data: bytes, content_type: str) -> None:
        """Store `data` as `name` unless it is already there (content-addressed objects)."""

    def exists(self, name: str) -> bool: ...

    def delete(self, names: list[str]) -> int:
        """Delete objects (a missing one is not an error); how many were asked."""

    def listing(self, prefix: str) -> list[Entry]:
        """The objects whose name starts with `prefix`."""

    def read_bytes(self, name: str) -> bytes: ...

    def file(self, name: str) -> StoredFile:
        """The object as a read-only file for the tag reader (a bucket object is read by ranges)."""

    def url(self, name: str, method: str = "GET", content_type: str | None = None,
            disposition: str | None = None) -> str:  # fmt: skip
        """A URL the object can be fetched from for AWS_QUERYSTRING_EXPIRE seconds (buckets only)."""

    def check(self) -> None:
        """StorageError when the storage cannot be used."""

    def describe(self) -> str: ...
