"""ActivityPub and discovery documents, shaped as Funkwhale 1.4 sends them (key order included)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

# federation/jsonld.py get_default_context: every document Funkwhale sends carries it.
CONTEXT: list[Any] = [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    "https://funkwhale.audio/ns",
    {"manuallyApprovesFollowers": "as:manuallyApprovesFollowers", "Hashtag": "as:Hashtag"},
]


def actor_document(row: dict[str, Any], base_url: str) -> dict[str, Any]:
    """A local actor (Person or Service) from its row (see store.local_actor_txn)."""
    fid = row["fid"]
    doc: dict[str, Any] = {
        "id": fid,
        "outbox": row["outbox_url"],
        "inbox": row["inbox_url"],
        "preferredUsername": row["preferred_username"],
        "type": row["type"],
        "name": row["name"] or row["preferred_username"],
        "followers": row["followers_url"],
        "following": row["following_url"],
        "manuallyApprovesFollowers": row["manually_approves_followers"],
        "url": [{"type": "Link", "href": row["url"], "mediaType": "text/html"}],
        "icon": _icon(row, base_url),
        "@context": CONTEXT,
        "publicKey": {"owner": fid, "publicKeyPem": row["public_key"], "id": f"{fid}#main-key"},
        "endpoints": {"sharedInbox": row["shared_inbox_url"]},
    }
    if row["summary"]:
        doc["summary"] = row["summary"]
    return doc


def _icon(row: dict[str, Any], base_url: str) -> dict[str, Any] | None:
    """The avatar as an Image (Funkwhale links the original picture)."""
    if row["avatar_uuid"] is None:
        return None
    url = f"{base_url}/api/v1/attachments/{row['avatar_uuid']}/proxy?next=original"
    return {"type": "Image", "mediaType": row["avatar_mimetype"] or "image/jpeg", "url": url}


def tombstone_document(fid: str) -> dict[str, Any]:
    """What a deleted account's actor id answers (with 410 Gone)."""
    return {"@context": CONTEXT, "id": fid, "type": "Tombstone"}


def ordered_collection(fid: str, total: int) -> dict[str, Any]:
    """An actor's outbox / followers / following: an OrderedCollection with its total (items come later)."""
    return {"@context": CONTEXT, "id": fid, "type": "OrderedCollection", "totalItems": total, "orderedItems": []}


def webfinger_document(subject: str, actor_id: str) -> dict[str, Any]:
    """RFC 7033 JRD for an actor, as Funkwhale's ActorWebfingerSerializer renders it."""
    return {
        "subject": subject,
        "links": [{"rel": "self", "href": actor_id, "type": "application/activity+json"}],
        "aliases": [actor_id],
    }


def host_meta_xml(base_url: str) -> bytes:
    """RFC 6415 host-meta: where WebFinger lives (Mastodon asks for it after a WebFinger 404)."""
    template = quoteattr(f"{base_url}/.well-known/webfinger?resource={{uri}}")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template={template}/>\n'
        "</XRD>\n"
    ).encode()
