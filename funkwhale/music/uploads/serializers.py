"""Library and upload rows (from store.py) as Funkwhale API v1 JSON (LibraryForOwnerSerializer,
UploadForOwnerSerializer, APIActorSerializer), and a file's tags as its metadata route shows them."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING, Any

from funkwhale.music.models import Metadata

if TYPE_CHECKING:
    from funkwhale.music.catalog.serializers import Renderer


def _content(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    return {"text": text, "content_type": "text/plain", "html": html.escape(text).replace("\n", "<br>")}


def actor_json(row: dict[str, Any], local_domain: str, prefix: str = "actor_") -> dict[str, Any]:
    """Funkwhale's APIActorSerializer from the columns `<prefix>fid`, `<prefix>preferred_username`...; a local
    actor that was never fetched has its creation date as `last_fetch_date`, as Funkwhale sets it."""

    def get(name: str) -> Any:
        return row[prefix + name]

    return {
        "fid": get("fid"),
        "url": get("url"),
        "creation_date": get("creation_date"),
        "summary": _content(get("summary")),
        "preferred_username": get("preferred_username"),
        "name": get("name"),
        "last_fetch_date": get("last_fetch_date") or get("creation_date"),
        "domain": get("domain"),
        "type": get("type"),
        "manually_approves_followers": get("manually_approves_followers"),
        "full_username": f"{get('preferred_username')}@{get('domain')}",
        "is_local": get("domain") == local_domain,
    }


def library_json(row: dict[str, Any], local_domain: str, prefix: str = "") -> dict[str, Any]:
    """A library from the columns `<prefix>uuid`, `<prefix>name`, `<prefix>size`... and its owner's `actor_*`
    columns."""
    return {
        "uuid": row[prefix + "uuid"],
        "fid": row[prefix + "fid"],
        "name": row[prefix + "name"],
        "description": row[prefix + "description"],
        "privacy_level": row[prefix + "privacy_level"],
        "uploads_count": row[prefix + "uploads_count"],
        "size": row[prefix + "size"],
        "creation_date": row[prefix + "creation_date"],
        "actor": actor_json(row, local_domain),
    }


def upload_json(row: dict[str, Any], renderer: Renderer) -> dict[str, Any]:
    """An upload row with its library and its `track` (a catalog row, None before import)."""
    return {
        "uuid": row["uuid"],
        "filename": row["original_name"] or str(row["uuid"]),
        "creation_date": row["creation_date"],
        "mimetype": row["mimetype"],
        "track": None if row["track"] is None else renderer.track(row["track"]),
        "library": library_json(row, renderer.domain, prefix="library_"),
        "duration": row["duration"],
        "bitrate": row["bitrate"],
        "size": row["size"],
        "import_date": row["import_date"],
        "import_status": row["import_status"],
        "import_details": row["import_details"],
        "import_metadata": row["import_metadata"],
        "import_reference": row["import_reference"],
        "source": row["source"],
        "metadata": row["metadata"],
    }


def file_metadata_json(md: Metadata) -> dict[str, Any]:
    """What an audio file's tags say, as 1.4's `uploads/<uuid>/audio-file-metadata/` shows them (its import
    serializer's output: the cover's content in base64)."""

    def artists(names: tuple[str, ...], mbids: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{"name": name, "mbid": mbids[i] if i < len(mbids) else None} for i, name in enumerate(names)]

    cover = None if md.cover is None else {
        "mimetype": md.cover.mimetype, "content": base64.b64encode(md.cover.data).decode("ascii")
    }  # fmt: skip
    return {
        "title": md.title,
        "position": md.track_number,
        "disc_number": md.disc_number,
        "mbid": md.mbid,
        "copyright": md.copyright,
        "license": md.license,
        "tags": list(md.genres),
        "description": _content(md.comment),
        "artists": artists(md.artists, md.artist_mbids),
        "album": {
            "title": md.album or "[Unknown Album]",
            "release_date": md.release_date,
            "mbid": md.album_mbid,
            "artists": artists(md.album_artists or md.artists, md.album_artist_mbids),
        },
        "cover_data": cover,
    }
