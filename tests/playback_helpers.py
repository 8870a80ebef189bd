"""Playable tracks with real audio files under MEDIA_ROOT (rows inserted directly), and checks of what a
listen URL returned (decoded by ffmpeg: container format and duration)."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from funkwhale.config import Settings
from funkwhale.music import formats, sources
from funkwhale.music.ffmpeg import ffmpeg_binary

from .audio import encoded_tone
from .catalog_factories import (
    insert_album,
    insert_artist,
    insert_library,
    insert_listener,
    insert_track,
    insert_upload,
)


@dataclass
class Playable:
    track: dict[str, Any]
    upload: dict[str, Any]
    path: Path

    @property
    def url(self) -> str:
        return f"/api/v1/listen/{self.track['uuid']}/"


def long_wav(directory: Path, seconds: int) -> Path:
    """A plain PCM wav of `seconds` (fast to make; slow enough to transcode that a test can interrupt it)."""
    path = directory / f"long-{seconds}.wav"
    if not path.exists():
        subprocess.run(
            [ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
             "-i", f"sine=frequency=330:sample_rate=44100:duration={seconds}", "-ac", "2", "-c:a", "pcm_s16le",
             str(path)],
            check=True,
        )  # fmt: skip
    return path


def loud_mp3(directory: Path) -> Path:
    """3 s of pink noise as a 320 kbps mp3 (a tone would not need the bitrate)."""
    path = directory / "loud.mp3"
    subprocess.run(
        [ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "anoisesrc=d=3:c=pink",
         "-ac", "2", "-c:a", "libmp3lame", "-b:a", "320k", str(path)],
        check=True,
    )  # fmt: skip
    return path


def add_playable(
    conn: Any,
    settings: Settings,
    library: dict[str, Any],
    fmt: str,
    *,
    title: str = "Song",
    source_file: Path | None = None,
    in_place: bool = False,
    bitrate: int | None = None,
) -> Playable:
    """A track (artist "Artist", album "Album") with one finished upload whose file is a real `fmt` file:
    copied under MEDIA_ROOT/tracks, or referenced in place (`file://` source) from DATA_DIR/music."""
    artist = insert_artist(conn, "Artist")
    album = insert_album(conn, artist, "Album")
    track = insert_track(conn, artist, title, album)
    original = source_file or encoded_tone(fmt)
    name = f"{uuid.uuid4().hex}.{fmt}"
    audio = formats.by_extension(fmt)
    assert audio is not None
    fields: dict[str, Any] = {"mimetype": audio.served_as, "size": original.stat().st_size, "duration": 2,
                              "bitrate": bitrate or 128000}  # fmt: skip
    if in_place:
        path = Path(settings.data_dir) / "music" / name
        fields.update(audio_file=None, source=sources.file_uri(path))
    else:
        fields["audio_file"] = f"tracks/{name[:2]}/{name[2:4]}/{name}"
        path = settings.media_path / fields["audio_file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(original, path)
    upload = insert_upload(conn, library, track, **fields)
    return Playable(track, upload, path)


def owner_with_library(conn: Any, username: str, privacy_level: str = "me") -> tuple[dict, dict]:
    user = insert_listener(conn, username)
    return user, insert_library(conn, user, privacy_level)


def probe(data: bytes, directory: Path) -> tuple[str, float]:
    """(ffmpeg's name for the container, duration in seconds from fully decoding it) of audio bytes."""
    path = directory / f"probe-{uuid.uuid4().hex}"
    path.write_bytes(data)
    done = subprocess.run(
        [ffmpeg_binary(), "-nostdin", "-hide_banner", "-i", str(path), "-f", "s16le", "-ac", "1", "-ar", "8000",
         "pipe:1"],
        capture_output=True,
        check=True,
    )  # fmt: skip
    container = re.search(rb"Input #0, ([\w,]+), from", done.stderr)
    assert container is not None, done.stderr[-500:]
    return container.group(1).decode(), len(done.stdout) / 16000


def ffmpeg_children() -> list[psutil.Process]:
    """ffmpeg processes started by this (test and server) process."""
    children = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "ffmpeg" in child.name() and child.status() != psutil.STATUS_ZOMBIE:
                children.append(child)
        except psutil.NoSuchProcess:
            pass
    return children


def session(conn: Any, user: dict[str, Any]) -> dict[str, str]:
    """Request headers of a logged-in session of `user`."""
    from .factories import insert_session

    key, _ = insert_session(conn, user["id"])
    return {"Cookie": f"sessionid={key}"}


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _raw(base: str, method: str, path: str, headers: dict[str, str]) -> RawResponse:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return RawResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        conn.close()


async def raw_request(base: str, method: str, path: str, headers: dict[str, str]) -> RawResponse:
    """A request whose every response header is visible (Twisted's client hides Content-Length and
    Transfer-Encoding), made with http.client in a thread."""
    from twisted.internet.threads import deferToThread

    return await deferToThread(_raw, base, method, path, headers)


class LoggedFailures:
    """Collects the failures logged while it is active (`with LoggedFailures() as failures:`)."""

    def __init__(self) -> None:
        self.failures: list[Any] = []

    def _observe(self, event: dict) -> None:
        if event.get("log_failure") is not None or event.get("isError"):
            self.failures.append(event)

    def __enter__(self) -> list[Any]:
        from twisted.logger import globalLogPublisher

        globalLogPublisher.addObserver(self._observe)
        return self.failures

    def __exit__(self, *exc: Any) -> None:
        from twisted.logger import globalLogPublisher

        globalLogPublisher.removeObserver(self._observe)
