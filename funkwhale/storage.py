"""Where media files live under MEDIA_ROOT, and how nginx reaches them (X-Accel-Redirect)."""

from __future__ import annotations

import os
import uuid as uuid_module
from pathlib import Path
from urllib.parse import quote

from funkwhale.config import Settings

TRACKS = "tracks"
ATTACHMENTS = "attachments"
TRANSCODED = "transcoded"
INCOMING = "incoming"


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
