"""ActivityPub documents of local music, keyed and nested as Funkwhale 1.4 sends them: a Library (a collection
of Audio), its CollectionPage, an Audio (an upload), a Track, an Album, an Artist. Rows come from music_store."""

from __future__ import annotations

import datetime
import html
import math
from typing import Any

from funkwhale.activitypub.serializers import CONTEXT
from funkwhale.music.licenses import LICENSES

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PAGE_SIZE = 50  # Funkwhale's federation__collection_page_size
_LICENSE_IDS = {entry["code"]: entry["id"] for entry in LICENSES}


def _date(value: Any) -> str | None:
    """An ISO 8601 date-time as Funkwhale writes it (`+00:00`); a JSON column's text is already one."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def _license(value: str | None) -> str | None:
    """The license URL of a known code (what the API shows), else what the file said when it is an URL."""
    if not value:
        return None
    if value in _LICENSE_IDS:
        return _LICENSE_IDS[value]
    return value if value.startswith(("http://", "https://")) else None


def _image(row: dict[str, Any] | None, base_url: str) -> dict[str, Any] | None:
    """An attachment as an Image: its remote URL, or the original picture through our proxy."""
    if row is None:
        return None
    url = row["url"] or f"{base_url}/api/v1/attachments/{row['uuid']}/proxy?next=original"
    return {"type": "Image", "url": url, "mediaType": row["mimetype"] or "image/jpeg"}


def _html(text: str) -> str:
    """A comment as HTML, as Funkwhale renders descriptions (text already in HTML is kept)."""
    return text if text.lstrip().startswith("<") else f"<p>{html.escape(text)}</p>"


def _tags(names: list[str]) -> list[dict[str, str]]:
    return [{"type": "Hashtag", "name": f"#{name}"} for name in names]


def artist_document(artist: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {
        "type": "Artist",
        "id": artist["fid"],
        "name": artist["name"],
        "published": _date(artist["creation_date"]),
        "musicbrainzId": artist["mbid"],
        "attributedTo": artist["attributed_to"],
        "tag": _tags(artist["tags"]),
        "image": _image(artist["cover"], base_url),
    }


def album_document(album: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {
        "type": "Album",
        "id": album["fid"],
        "name": album["title"],
        "published": _date(album["creation_date"]),
        "musicbrainzId": album["mbid"],
        "released": album["release_date"],
        "attributedTo": album["attributed_to"],
        "tag": _tags(album["tags"]),
        "artists": [artist_document(album["artist"], base_url)],
        "image": _image(album["cover"], base_url),
    }


def track_document(track: dict[str, Any], base_url: str) -> dict[str, Any]:
    fields = track["file_fields"]
    doc: dict[str, Any] = {
        "type": "Track",
        "id": track["fid"],
        "name": track["title"],
        "published": _date(track["creation_date"]),
        "musicbrainzId": track["mbid"],
        "position": track["position"],
        "disc": track["disc_number"],
        "license": _license(fields["license"]),
        "copyright": fields["copyright"] or None,
        "artists": [artist_document(track["artist"], base_url)],
        "album": album_document(track["album"], base_url) if track["album"] else None,
        "attributedTo": track["attributed_to"],
        "tag": _tags(track["tags"]),
    }
    if fields["description"]:
        doc["content"] = _html(fields["description"])
        doc["mediaType"] = "text/html"
    doc["image"] = _image(track["cover"], base_url)
    return doc


def listen_url(base_url: str, track_uuid: Any, upload_uuid: Any) -> str:
    return f"{base_url}/api/v1/listen/{track_uuid}/?upload={upload_uuid}&download=false"


def upload_document(row: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The Audio of a finished upload (a row of music_store's Audio columns), without @context."""
    track = row["track"]
    album = track["album"]
    name = " - ".join(part for part in (track["artist"]["name"], album and album["title"], track["title"]) if part)
    return {
        "type": "Audio",
        "id": row["fid"],
        "library": row["library_fid"],
        "name": name,
        "published": _date(row["creation_date"]),
        "bitrate": row["bitrate"],
        "size": row["size"],
        "duration": row["duration"],
        "url": [
            {"href": listen_url(base_url, track["uuid"], row["uuid"]), "type": "Link", "mediaType": row["mimetype"]},
            {"type": "Link", "mediaType": "text/html", "href": f"{base_url}/library/tracks/{track['id']}"},
        ],
        "track": track_document(track, base_url),
        "to": PUBLIC if row["library_privacy_level"] == "everyone" else "",
        "attributedTo": row["actor_fid"],
        "updated": _date(row["modification_date"]),
    }


def with_context(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as served on its own: with Funkwhale's @context last, as 1.4 orders it."""
    return {**doc, "@context": CONTEXT}


def page_url(library_fid: str, page: int) -> str:
    return f"{library_fid}?page={page}"


def last_page(total: int) -> int:
    return max(1, math.ceil(total / PAGE_SIZE))


def library_document(library: dict[str, Any]) -> dict[str, Any]:
    """A library as a collection (a row of music_store.local_library_txn)."""
    fid = library["fid"]
    first = page_url(fid, 1)
    return {
        "id": fid,
        "attributedTo": library["actor_fid"],
        "totalItems": library["total"],
        "type": "Library",
        "current": first,
        "first": first,
        "last": page_url(fid, last_page(library["total"])),
        "name": library["name"],
        "summary": library["description"] or None,
        "@context": CONTEXT,
        "audience": PUBLIC if library["privacy_level"] == "everyone" else "",
        "followers": library["followers_url"] or f"{fid}/followers",
    }


def library_page_document(
    library: dict[str, Any], page: int, rows: list[dict[str, Any]], base_url: str
) -> dict[str, Any]:
    """Page `page` (from 1) of a library: its Audio items and the links around it."""
    fid = library["fid"]
    last = last_page(library["total"])
    doc: dict[str, Any] = {
        "id": page_url(fid, page),
        "partOf": fid,
        "totalItems": library["total"],
        "type": "CollectionPage",
        "first": page_url(fid, 1),
        "last": page_url(fid, last),
        "items": [upload_document(row, base_url) for row in rows],
        "attributedTo": library["actor_fid"],
        "name": library["name"],
        "summary": library["description"] or None,
    }
    if page > 1:
        doc["prev"] = page_url(fid, page - 1)
    if page < last:
        doc["next"] = page_url(fid, page + 1)
    doc["@context"] = CONTEXT
    return doc
