"""Where media live: under MEDIA_ROOT (names relative to it, who may read them: FUNKWHALE_UMASK, how nginx reaches
them: X-Accel-Redirect), or in an S3-compatible bucket when AWS_STORAGE_BUCKET_NAME is set. `media(settings)` is
the one interface to both (base.MediaStore; local.py, s3.py); serving.py answers a request with a bucket object."""

from __future__ import annotations

import functools
import os
import uuid as uuid_module
from pathlib import Path
from urllib.parse import quote

from funkwhale.config import Settings
from funkwhale.storage.base import MediaMissing, MediaStore, StorageError

__all__ = ["MediaMissing", "MediaStore", "StorageError", "media"]

TRACKS = "tracks"
ATTACHMENTS = "attachments"
TRANSCODED = "transcoded"
REMOTE_CACHE = "federation_cache"  # cached copies of remote uploads' audio
INCOMING = "incoming"

_umask = 0o077  # the process umask, as apply_umask set it


def apply_umask(settings: Settings) -> None:
    """Set FUNKWHALE_UMASK as this process's umask (so on what it creates and what its children create), and
    protect DATA_DIR and MEDIA_ROOT (older versions made them 0755)."""
    global _umask
    _umask = settings.umask
    os.umask(settings.umask)
    protect_directories(settings)


def protect_directories(settings: Settings) -> None:
    """Give DATA_DIR and MEDIA_ROOT the mode the umask gives a directory (0700, or 0750 with 027). Run as root,
    pgserver hands DATA_DIR/postgres to its own `pgserver` user and opens the way to it: the group and others keep
    only the right to traverse DATA_DIR then (0711), its contents stay closed to them. The group's matters: the
    server's processes run as that user but in the daemon's group (root's), so a 0701 DATA_DIR shut them out of
    PGDATA's absolute paths (pg_ctl could not stop the server, its checkpointer panicked at shutdown)."""
    data_dir = Path(settings.data_dir)
    for path in (data_dir, media_root(settings)):
        path.mkdir(parents=True, exist_ok=True)
        if path.stat().st_uid != os.getuid():
            continue
        mode = 0o777 & ~settings.umask
        postgres = data_dir / "postgres"
        if path == data_dir and postgres.exists() and postgres.stat().st_uid != os.getuid():
            mode |= 0o011
        os.chmod(path, mode)


def file_mode() -> int:
    """The mode of a media file written through a temporary file (which tempfile creates 0600 whatever the
    umask): 0600, or 0640 with umask 027 so that nginx's group may serve it."""
    return 0o666 & ~_umask


def media_root(settings: Settings) -> Path:
    return settings.media_path


def chunked_name(kind: str, key: str, suffix: str = "") -> str:
    """A relative path spread over two directory levels: `tracks/ab/cd/abcd....mp3`."""
    return f"{kind}/{key[:2]}/{key[2:4]}/{key}{suffix}"


def new_name(kind: str, suffix: str = "") -> str:
    return chunked_name(kind, uuid_module.uuid4().hex, suffix)


def absolute(settings: Settings, relative: str) -> Path:
    """The file for a relative media name; refuses names that would escape MEDIA_ROOT."""
    root = media_root(settings).resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError(f"{relative!r} is outside MEDIA_ROOT")
    return path


def ensure_parent(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)


def incoming_dir(settings: Settings) -> Path:
    """Where request bodies are spooled before they are accepted (same filesystem: a rename moves them)."""
    path = media_root(settings) / INCOMING
    path.mkdir(parents=True, exist_ok=True)
    return path


def accel_path(relative: str) -> str:
    """The internal nginx location of a media file (deploy/nginx.conf: /_protected/media/)."""
    return "/_protected/media/" + quote(relative)


def accel_music_path(absolute_path: str, music_root: str) -> str:
    """The internal nginx location of an in-place file under a configured music folder (/_protected/music/)."""
    return "/_protected/music/" + quote(os.path.relpath(absolute_path, music_root))


@functools.cache
def media(settings: Settings) -> MediaStore:
    """The media storage of these settings (one per process): the bucket when AWS_STORAGE_BUCKET_NAME is set,
    else MEDIA_ROOT."""
    if settings.media_bucket:
        from funkwhale.storage.s3 import S3Store

        return S3Store(settings)
    from funkwhale.storage.local import LocalStore

    return LocalStore(settings)
