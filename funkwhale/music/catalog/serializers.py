"""Catalog rows (from store.py) as Funkwhale API v1 JSON: artists, albums, tracks, their uploads, tags, covers."""

from __future__ import annotations

import html
import posixpath
from collections.abc import Callable
from typing import Any, overload
from urllib.parse import urlsplit

from funkwhale.music import formats, sources
from funkwhale.music.attachments import attachment_json
from funkwhale.music.uploads.serializers import actor_json

Rendering = Callable[[dict[str, Any]], dict[str, Any]]


class Renderer:
    """Knows the instance's base URL, so it can tell local objects and build absolute cover URLs."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.domain = urlsplit(self.base_url).netloc
        self._local_prefix = self.base_url + "/"

    def is_local(self, fid: str | None) -> bool:
        if not fid:
            return False
        return fid == self.base_url or fid.startswith(self._local_prefix)

    @overload
    def cover(self, attachment: dict[str, Any]) -> dict[str, Any]: ...
    @overload
    def cover(self, attachment: dict[str, Any] | None) -> dict[str, Any] | None: ...
    def cover(self, attachment: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if attachment is None else attachment_json(attachment, self.base_url)

    def user(self, user: dict[str, Any]) -> dict[str, Any]:
        """A user from store's `user_json` fragment, with its avatar as attachment JSON."""
        return {**user, "avatar": self.cover(user["avatar"])}

    def actor(self, actor: dict[str, Any] | None) -> dict[str, Any] | None:
        """An actor from store's `user_actor_json` fragment (None for a user without one)."""
        return None if actor is None else actor_json(actor, self.domain, prefix="")

    @staticmethod
    def description(text: str | None) -> dict[str, Any] | None:
        if not text:
            return None
        return {"text": text, "content_type": "text/plain", "html": html.escape(text).replace("\n", "<br>")}

    def simple_artist(self, artist: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": artist["id"],
            "fid": artist["fid"],
            "mbid": artist["mbid"],
            "name": artist["name"],
            "creation_date": artist["creation_date"],
            "modification_date": artist["modification_date"],
            "is_local": self.is_local(artist["fid"]),
            "content_category": artist["content_category"],
            "description": self.description(artist["description"]),
            "attachment_cover": self.cover(artist["cover"]),
            "channel": None,
        }

    def upload(self, upload: dict[str, Any], listen_url: str) -> dict[str, Any]:
        """An upload of the track whose `listen_url` is given."""
        return {
            "uuid": upload["uuid"],
            "listen_url": f"{listen_url}?upload={upload['uuid']}",
            "size": upload["size"],
            "duration": upload["duration"],
            "bitrate": upload["bitrate"],
            "mimetype": upload["mimetype"],
            "extension": extension(upload),
            "is_local": self.is_local(upload["fid"]),
        }

    def track(
        self, row: dict[str, Any], with_description: bool = False, seen: dict[Any, Any] | None = None
    ) -> dict[str, Any]:
        """A track; `seen` (shared by the rows of one answer) renders each distinct album and artist once."""
        album, uploads = row["album"], row["uploads"]
        first = uploads[0] if uploads else {}  # what its file says stands in for what the track lacks
        listen_url = f"/api/v1/listen/{row['uuid']}/"
        body = {
            "id": row["id"],
            "fid": row["fid"],
            "mbid": row["mbid"],
            "title": row["title"],
            "artist": self._once(seen, "artist", row["artist"], self.simple_artist),
            "album": self._once(seen, "album", album, self.track_album) if album is not None else None,
            "uploads": [self.upload(u, listen_url) for u in uploads],
            "listen_url": listen_url,
            "tags": row["tags"],
            "position": row["position"],
            "disc_number": row["disc_number"],
            "license": first.get("file_license") if row["license"] is None else row["license"],
            "copyright": row["copyright"] or first.get("file_copyright") or None,
            "cover": self.cover(row["cover"]),
            "is_playable": bool(uploads),
            "is_local": self.is_local(row["fid"]),
            "creation_date": row["creation_date"],
            "downloads_count": row["downloads_count"],
            "attributed_to": self.actor(row["attributed_to"]),
        }
        if with_description:
            body["description"] = self.description(row["description"] or first.get("file_description"))
        return body

    def track_album(self, album: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": album["id"],
            "fid": album["fid"],
            "mbid": album["mbid"],
            "title": album["title"],
            "artist": self.simple_artist(album["artist"]),
            "release_date": album["release_date"],
            "cover": self.cover(album["cover"]),
            "creation_date": album["creation_date"],
            "is_local": self.is_local(album["fid"]),
            "tracks_count": album["tracks_count"],
        }

    def album(self, row: dict[str, Any], with_description: bool = False) -> dict[str, Any]:
        body = {
            "id": row["id"],
            "fid": row["fid"],
            "mbid": row["mbid"],
            "title": row["title"],
            "artist": self.simple_artist(row["artist"]),
            "release_date": row["release_date"],
            "cover": self.cover(row["cover"]),
            "creation_date": row["creation_date"],
            "is_local": self.is_local(row["fid"]),
            "tracks_count": row["tracks_count"],
            "is_playable": row["tracks_count"] > 0,
            "tags": row["tags"],
            "attributed_to": self.actor(row["attributed_to"]),
            "duration": row["duration"],
        }
        if with_description:
            body["description"] = self.description(row["description"])
        return body

    def artist_album(self, album: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": album["id"],
            "fid": album["fid"],
            "mbid": album["mbid"],
            "title": album["title"],
            "artist": album["artist"],
            "release_date": album["release_date"],
            "creation_date": album["creation_date"],
            "cover": self.cover(album["cover"]),
            "tracks_count": album["tracks_count"],
            "is_playable": album["tracks_count"] > 0,
            "is_local": self.is_local(album["fid"]),
        }

    def artist(self, row: dict[str, Any], with_description: bool = False) -> dict[str, Any]:
        body = {
            "id": row["id"],
            "fid": row["fid"],
            "mbid": row["mbid"],
            "name": row["name"],
            "content_category": row["content_category"],
            "creation_date": row["creation_date"],
            "is_local": self.is_local(row["fid"]),
            "albums": [self.artist_album(a) for a in row["albums"]],
            "tracks_count": row["tracks_count"],
            "tags": row["tags"],
            "cover": self.cover(row["cover"]),
            "attributed_to": self.actor(row["attributed_to"]),
            "channel": None,
        }
        if with_description:
            body["description"] = self.description(row["description"])
        return body

    def render(self, kind: str, row: dict[str, Any], with_description: bool = False) -> dict[str, Any]:
        """A row of `kind` ("track", "album" or "artist")."""
        return getattr(self, kind)(row, with_description)

    def tracks(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Tracks of one answer (a page, a playlist): each distinct album and artist is rendered once, its JSON
        shared by the rows that hold it (the rows of one statement carry the same album as equal pieces)."""
        seen: dict[Any, Any] = {}
        return [self.track(row, seen=seen) for row in rows]

    def page(self, kind: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows of a page of `kind`."""
        return self.tracks(rows) if kind == "track" else [self.render(kind, row) for row in rows]

    @staticmethod
    def _once(seen: dict[Any, Any] | None, what: str, piece: dict[str, Any], render: Rendering) -> dict[str, Any]:
        if seen is None:
            return render(piece)
        key = (what, piece["id"])
        if key not in seen:
            seen[key] = render(piece)
        return seen[key]


def tag(row: dict[str, Any]) -> dict[str, Any]:
    return {"name": row["name"], "creation_date": row["creation_date"]}


def extension(upload: dict[str, Any]) -> str | None:
    """The file's extension (from its stored name or source path), else the one its mimetype implies."""
    for name in (upload.get("audio_file"), sources.local_name(upload.get("source")), upload.get("original_name")):
        if name:
            ext = posixpath.splitext(name)[1].lstrip(".").lower()
            if ext:
                return ext
    audio = formats.by_mimetype(upload.get("mimetype"))
    return audio.extension if audio else None
