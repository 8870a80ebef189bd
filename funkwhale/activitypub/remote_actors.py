"""Remote actors: fetched from their origin, checked, kept in the `actor` table and refreshed when stale.

An actor document is trusted only as served from its own id (`Fetcher.get_object` checks that the id is the URL
it came from), and its inbox, outbox, collections, shared inbox and key must be on the same origin. A local actor
is never overwritten by a remote document.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from funkwhale.activitypub import actors, store
from funkwhale.activitypub.fetch import Fetcher
from funkwhale.context import Context
from funkwhale.errors import Invalid

# How long a fetched actor is used before it is fetched again, and how often a failed signature may force that.
STALE_AFTER = 12 * 3600
REFRESH_AT_MOST_EVERY = 60
ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})
_MAX_TEXT = 5000


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, the host normalised (lower case, IDNA, no trailing dot, default port
    dropped): what two ids must share to come from the same server. '' for what is not an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        return ""
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return ""
    default = 443 if parts.scheme == "https" else 80
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port and port != default else "")


def domain_of(url: str) -> str:
    """The domain a remote id belongs to: its normalised host with a non-default port."""
    return origin(url).split("://", 1)[-1]


def same_origin(a: str, b: str) -> bool:
    """True when both are http(s) URLs of the same server."""
    first = origin(a)
    return bool(first) and first == origin(b)


@dataclass(frozen=True)
class RemoteActor:
    """The checked values of a remote actor document."""

    fid: str
    type: str
    preferred_username: str
    domain: str
    name: str
    summary: str
    url: str | None
    inbox_url: str
    outbox_url: str | None
    shared_inbox_url: str | None
    followers_url: str | None
    following_url: str | None
    public_key: str
    manually_approves_followers: bool


def _text(doc: dict[str, Any], key: str, limit: int = _MAX_TEXT) -> str:
    value = doc.get(key)
    return value[:limit] if isinstance(value, str) else ""


def _link(doc: dict[str, Any], key: str, fid: str, required: bool = False) -> str | None:
    """An URL of the actor's own origin (an id given as a string or an object with `id`)."""
    value = doc.get(key)
    if isinstance(value, dict):
        value = value.get("id")
    if value is None and not required:
        return None
    if not isinstance(value, str) or not same_origin(value, fid):
        raise Invalid(fields={key: [f"must be an URL on the actor's server ({origin(fid)})"]}, code="invalid_actor")
    return value


def _html_url(doc: dict[str, Any]) -> str | None:
    url = doc.get("url")
    if isinstance(url, list):
        links = [u for u in url if isinstance(u, dict) and u.get("mediaType", "text/html") == "text/html"]
        url = links[0].get("href") if links else None
    return url if isinstance(url, str) and origin(url) else None


def parse_actor(doc: dict[str, Any], fid: str) -> RemoteActor:
    """Check an actor document fetched from `fid`; raises Invalid with the reason."""
    kind = doc.get("type")
    if kind not in ACTOR_TYPES:
        raise Invalid(fields={"type": [f"not an actor type: {kind!r}"]}, code="invalid_actor")
    username = doc.get("preferredUsername")
    if not isinstance(username, str) or not username or len(username) > 200:
        raise Invalid(fields={"preferredUsername": ["required, at most 200 characters"]}, code="invalid_actor")
    key = doc.get("publicKey")
    if isinstance(key, list):
        key = key[0] if key else None
    if not isinstance(key, dict) or not isinstance(key.get("publicKeyPem"), str):
        raise Invalid(fields={"publicKey": ["required"]}, code="invalid_actor")
    if key.get("owner", fid) != fid or not same_origin(str(key.get("id", "")), fid):
        raise Invalid(fields={"publicKey": ["its id and owner must be the actor's"]}, code="invalid_actor")
    try:
        public = serialization.load_pem_public_key(key["publicKeyPem"].encode("ascii"))
    except (ValueError, UnicodeError):
        raise Invalid(fields={"publicKey": ["not a PEM public key"]}, code="invalid_actor") from None
    if not isinstance(public, rsa.RSAPublicKey) or public.key_size < 1024:
        raise Invalid(fields={"publicKey": ["not an RSA key of 1024 bits or more"]}, code="invalid_actor")
    endpoints = doc.get("endpoints")
    if not isinstance(endpoints, dict):
        endpoints = {}
    return RemoteActor(
        fid=fid,
        type=kind,
        preferred_username=username,
        domain=domain_of(fid),
        name=_text(doc, "name", 200),
        summary=_text(doc, "summary"),
        url=_html_url(doc),
        inbox_url=_link(doc, "inbox", fid, required=True) or "",
        outbox_url=_link(doc, "outbox", fid),
        shared_inbox_url=_link(endpoints, "sharedInbox", fid),
        followers_url=_link(doc, "followers", fid),
        following_url=_link(doc, "following", fid),
        public_key=key["publicKeyPem"],
        manually_approves_followers=doc.get("manuallyApprovesFollowers") is True,
    )


def is_local(ctx: Context, fid: str) -> bool:
    return same_origin(fid, ctx.settings.base_url)


async def get_actor(ctx: Context, fid: str, *, refresh: bool = False) -> dict[str, Any]:
    """The actor row of `fid`: a local actor as stored; a remote one fetched (signed GET as the service actor)
    when unknown, older than STALE_AFTER, or when `refresh` asks and the last fetch is over a minute old.

    Raises Invalid (not_found) for an unknown local actor, FetchError when the origin cannot be reached, and
    Invalid for a document that is not a valid actor."""
    row: dict[str, Any] | None = await ctx.db.run(store.actor_by_fid_txn, fid, desc="activitypub.actor_by_fid")
    if is_local(ctx, fid):
        if row is None:
            raise Invalid(detail=f"no local actor {fid}", code="not_found", kind="not_found")
        return row
    if row is not None and row["last_fetch_date"] is not None:
        age = time.time() - row["last_fetch_date"].timestamp()
        if age < (REFRESH_AT_MOST_EVERY if refresh else STALE_AFTER):
            return row
    return await refetch(ctx, fid)


async def refetch(ctx: Context, fid: str) -> dict[str, Any]:
    """Fetch a remote actor's document now and store it (as after an Update of it); its row."""
    doc = await Fetcher.from_settings(ctx.settings).get_object(fid, signer=await actors.signer(ctx))
    actor = parse_actor(doc, fid)
    return await ctx.db.run(store.upsert_remote_actor_txn, actor, desc="activitypub.upsert_remote_actor")


def key_owner(key_id: str) -> str:
    """The actor id a key id names (`<actor>#main-key`)."""
    return key_id.split("#", 1)[0]
