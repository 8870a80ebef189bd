"""Library and upload rows (from store.py) as Funkwhale API v1 JSON (LibraryForOwnerSerializer,
UploadForOwnerSerializer, APIActorSerializer)."""

from __future__ import annotations

import html
from typing import Any


def _content(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    return {"text": text, "content_type": "text/plain", "html": html.escape(text).replace("\n", "<br>")}


def actor_json(row: dict[str, Any], local_domain: str, prefix: str = "actor_") -> dict[str, Any]:
    """An actor summary from the columns `<prefix>fid`, `<prefix>preferred_username`..."""

    def get(name: str) -> Any:
        return row[prefix + name]

    return {
        "fid": get("fid"),
        "url": get("url"),
        "creation_date": get("creation_date"),
        "summary": _content(get("summary")),
        "preferred_username": get("preferred_username"),
        "name": get("name"),
        "last_fetch_date": get("last_fetch_date"),
        "domain": get("domain"),
        "type": get("type"),
        "manually_approves_followers": get("manually_approves_followers"),
        "full_username": f"{get('preferred_username')}@{get('domain')}",
        "is_local": get("domain") == local_domain,
        "icon": None,
    }


def library_json(row: dict[str, Any], local_domain: str) -> dict[str, Any]:
    return {
        "uuid": row["uuid"],
        "fid": row["fid"],
        "name": row["name"],
        "description": row["description"],
        "privacy_level": row["privacy_level"],
        "uploads_count": row["uploads_count"],
        "size": row["size"],
        "creation_date": row["creation_date"],
        "actor": actor_json(row, local_domain),
    }


def _track(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["track_id"] is None:
        return None
    return {
        "id": row["track_id"],
        "uuid": row["track_uuid"],
        "fid": row["track_fid"],
        "title": row["track_title"],
        "listen_url": f"/api/v1/listen/{row['track_uuid']}/",
        "artist": {"id": row["artist_id"], "name": row["artist_name"]},
        "album": None if row["album_id"] is None else {"id": row["album_id"], "title": row["album_title"]},
    }


def upload_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "uuid": row["uuid"],
        "filename": row["original_name"] or str(row["uuid"]),
        "creation_date": row["creation_date"],
        "mimetype": row["mimetype"],
        "track": _track(row),
        "library": {
            "uuid": row["library_uuid"],
            "fid": row["library_fid"],
            "name": row["library_name"],
            "description": row["library_description"],
            "privacy_level": row["library_privacy_level"],
        },
        "channel": None,
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
