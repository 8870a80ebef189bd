"""Remote music in: an ActivityPub Library becomes a remote library row, an Audio (with its Track, Album and
Artists, or Funkwhale 2.0's `artist_credit`) a remote upload in it.

Documents are checked here (pure functions raising `Invalid`), then written by ingest_store in one transaction
per Audio. Origins: an Audio's id, its library and the library's actor share one server; a known artist, album
or track is changed only by a document from its own server (else it is used as it is), a new one is created with
the fid it came with. A remote upload (`upload.fid` = the Audio id) has `source` = its audio URL, no
`audio_file` until fed-play caches it, and import status `finished`.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from funkwhale.activitypub import ingest_store
from funkwhale.activitypub.music_documents import PUBLIC
from funkwhale.activitypub.remote_actors import same_origin
from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.music.licenses import LICENSES

_NAME_MAX = 255
_TEXT_MAX = 5000
_INT_MAX = 2**31 - 1
_LICENSE_CODES = {
    url: entry["code"] for entry in LICENSES for url in (entry["id"], entry["url"], entry["id"].rstrip("/"))
}


def _refuse(field: str, message: str) -> Invalid:
    return Invalid(fields={field: [message]}, code="invalid_document")


def _url(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value.startswith(("https://", "http://")) or len(value) > 2000:
        raise _refuse(key, "must be an http(s) URL")
    return value


def _text(doc: dict[str, Any], key: str, limit: int = _NAME_MAX, required: bool = False) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        if required:
            raise _refuse(key, "required")
        return ""
    return value.replace("\x00", "").strip()[:limit]


def _int(doc: dict[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT_MAX:
        return None
    return value


def _mbid(doc: dict[str, Any]) -> str | None:
    value = doc.get("musicbrainzId")
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) and value else None
    except ValueError:
        return None


def _date(value: Any) -> datetime.date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _tags(doc: dict[str, Any]) -> list[str]:
    tags = doc.get("tag")
    names: list[str] = []
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, dict) and tag.get("type") == "Hashtag" and isinstance(tag.get("name"), str):
            name = tag["name"].lstrip("#").replace("\x00", "").strip()[:100]
            if name and name.lower() not in (n.lower() for n in names):
                names.append(name)
    return names[:20]


def _image(doc: dict[str, Any]) -> tuple[str, str] | None:
    image = doc.get("image")
    if isinstance(image, list):
        image = image[0] if image else None
    if not isinstance(image, dict):
        return None
    try:
        url = _url(image, "url")
    except Invalid:
        return None
    mimetype = image.get("mediaType")
    return url, mimetype if isinstance(mimetype, str) and mimetype.startswith("image/") else "image/jpeg"


@dataclass(frozen=True)
class RemoteArtist:
    fid: str
    name: str
    mbid: str | None
    tags: list[str]


@dataclass(frozen=True)
class RemoteAlbum:
    fid: str
    title: str
    mbid: str | None
    release_date: datetime.date | None
    artist: RemoteArtist
    tags: list[str]
    cover: tuple[str, str] | None


@dataclass(frozen=True)
class RemoteTrack:
    fid: str
    title: str
    mbid: str | None
    position: int | None
    disc_number: int | None
    artist: RemoteArtist
    album: RemoteAlbum | None
    tags: list[str]
    file_fields: dict[str, str]


@dataclass(frozen=True)
class RemoteAudio:
    fid: str
    library_fid: str
    source: str
    mimetype: str
    size: int
    duration: int | None
    bitrate: int | None
    track: RemoteTrack


@dataclass(frozen=True)
class RemoteLibrary:
    fid: str
    actor_fid: str
    name: str
    description: str
    privacy_level: str
    followers_url: str | None
    uploads_count: int


def _first_artist(doc: dict[str, Any], field: str) -> RemoteArtist:
    """The first artist of `artists` (1.4) or `artist_credit` (2.0: [{artist, credit, joinphrase}])."""
    found: Any = None
    artists = doc.get("artists")
    credits = doc.get("artist_credit")
    if isinstance(artists, list) and artists:
        found = artists[0]
    elif isinstance(credits, list) and credits and isinstance(credits[0], dict):
        found = credits[0].get("artist")
    if not isinstance(found, dict):
        raise _refuse(field, "needs an artist (artists or artist_credit)")
    return parse_artist(found)


def parse_artist(doc: dict[str, Any]) -> RemoteArtist:
    return RemoteArtist(_url(doc, "id"), _text(doc, "name", required=True), _mbid(doc), _tags(doc))


def parse_album(doc: dict[str, Any]) -> RemoteAlbum:
    return RemoteAlbum(
        fid=_url(doc, "id"),
        title=_text(doc, "name", required=True),
        mbid=_mbid(doc),
        release_date=_date(doc.get("released")),
        artist=_first_artist(doc, "album"),
        tags=_tags(doc),
        cover=_image(doc),
    )


def parse_track(doc: dict[str, Any]) -> RemoteTrack:
    album = doc.get("album")
    license_url = doc.get("license")
    fields = {
        "license": _LICENSE_CODES.get(license_url, "") if isinstance(license_url, str) else "",
        "copyright": _text(doc, "copyright"),
        "description": _text(doc, "content", _TEXT_MAX),
    }
    return RemoteTrack(
        fid=_url(doc, "id"),
        title=_text(doc, "name", required=True),
        mbid=_mbid(doc),
        position=_int(doc, "position"),
        disc_number=_int(doc, "disc"),
        artist=_first_artist(doc, "track"),
        album=parse_album(album) if isinstance(album, dict) else None,
        tags=_tags(doc),
        file_fields={k: v for k, v in fields.items() if v},
    )


def _audio_link(doc: dict[str, Any]) -> tuple[str, str]:
    """(href, media type) of the Audio's first audio/* link."""
    urls = doc.get("url")
    for link in urls if isinstance(urls, list) else [urls]:
        if isinstance(link, dict) and str(link.get("mediaType", "")).startswith("audio/"):
            return _url(link, "href"), link["mediaType"][:100]
    raise _refuse("url", "needs an audio/* link")


def parse_audio(doc: Any) -> RemoteAudio:
    """Check an Audio document: its id, library and audio link on one server."""
    if not isinstance(doc, dict) or doc.get("type") != "Audio":
        raise _refuse("type", "must be Audio")
    fid = _url(doc, "id")
    library_fid = _url(doc, "library")
    source, mimetype = _audio_link(doc)
    if not same_origin(fid, library_fid) or not same_origin(fid, source):
        raise _refuse("id", "the Audio, its library and its file must be on one server")
    track = doc.get("track")
    if not isinstance(track, dict):
        raise _refuse("track", "required")
    return RemoteAudio(
        fid=fid,
        library_fid=library_fid,
        source=source,
        mimetype=mimetype,
        size=_int(doc, "size") or 0,
        duration=_int(doc, "duration"),
        bitrate=_int(doc, "bitrate"),
        track=parse_track(track),
    )


def parse_library(doc: Any) -> RemoteLibrary:
    """Check a Library document: its id and its actor on one server."""
    if not isinstance(doc, dict) or doc.get("type") != "Library":
        raise _refuse("type", "must be Library")
    fid = _url(doc, "id")
    actor_fid = _url(doc, "attributedTo")
    if not same_origin(fid, actor_fid):
        raise _refuse("attributedTo", "the library and its actor must be on one server")
    followers = doc.get("followers")
    audience = doc.get("audience")
    public = audience == PUBLIC or (isinstance(audience, list) and PUBLIC in audience)
    return RemoteLibrary(
        fid=fid,
        actor_fid=actor_fid,
        name=_text(doc, "name", 100) or "Library",
        description=_text(doc, "summary", _TEXT_MAX),
        privacy_level="everyone" if public else "me",
        followers_url=followers if isinstance(followers, str) and same_origin(followers, fid) else None,
        uploads_count=_int(doc, "totalItems") or 0,
    )


async def store_library(ctx: Context, library: RemoteLibrary, actor_id: int) -> dict[str, Any]:
    """Insert or update a remote library of the actor `actor_id` (the row of library.actor_fid); its row."""
    return await ctx.db.run(ingest_store.upsert_library_txn, library, actor_id, desc="ingest.library")


async def ingest_audio(ctx: Context, doc: Any, library: dict[str, Any]) -> int:
    """Store an Audio of the remote library row `library` (id, fid, actor_id) as a remote upload (created or
    updated, so the same Audio twice is one upload); the upload's id. Raises Invalid for a document that is not
    a valid Audio of that library."""
    audio = parse_audio(doc)
    if audio.library_fid != library["fid"]:
        raise _refuse("library", f"the Audio is not in {library['fid']}")
    return await ctx.db.run(ingest_store.store_audio_txn, audio, library, ctx.settings.base_url, desc="ingest.audio")


async def ingest_page(ctx: Context, items: list[Any], library: dict[str, Any]) -> list[str]:
    """Store the Audio items of a page of `library` in one transaction: why those refused were (one line each)."""
    audios, refused = [], []
    for item in items:
        try:
            audio = parse_audio(item)
            if audio.library_fid != library["fid"]:
                raise _refuse("library", f"the Audio is not in {library['fid']}")
            audios.append(audio)
        except Invalid as e:
            refused.append(f"{item.get('id') if isinstance(item, dict) else item!r}: {e.detail}")
    if audios:
        refused += await ctx.db.run(
            ingest_store.store_audios_txn, audios, library, ctx.settings.base_url, desc="ingest.page"
        )
    return refused
