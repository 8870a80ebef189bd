"""/.well-known/webfinger (RFC 7033) and /.well-known/host-meta (RFC 6415): how peers find our actors."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from klein import Klein

from funkwhale.activitypub import actors
from funkwhale.activitypub.http import JRD_JSON, FederationError, install_errors, not_found, require_enabled, respond
from funkwhale.activitypub.serializers import host_meta_xml, tombstone_document, webfinger_document
from funkwhale.config import Settings
from funkwhale.context import Context


def parse_resource(settings: Settings, resource: str) -> str:
    """The local username a WebFinger `resource` names, or FederationError (400 malformed, 404 elsewhere).

    Accepts `acct:user@host`, bare `user@host` (Mastodon does) and our actor or profile URL. The host is our
    FUNKWHALE_HOSTNAME, with or without its port (Mastodon asks for the actor id's host without the port).
    """
    resource = resource.strip()
    hosts = {settings.hostname.lower(), settings.domain.lower()}
    if resource.lower().startswith(("http://", "https://")):
        parts = urlsplit(resource)
        path = unquote(parts.path)
        if parts.netloc.lower() not in hosts:
            raise not_found()
        for prefix in ("/federation/actors/", "/@"):
            if path.startswith(prefix) and "/" not in path[len(prefix) :].rstrip("/"):
                return path[len(prefix) :].rstrip("/")
        raise not_found()
    if resource.lower().startswith("acct:"):
        resource = resource[5:]
    username, at, host = resource.rpartition("@")
    if not at or not username or "@" in username:
        raise FederationError(400, "Invalid resource: expected acct:user@host.", "invalid_resource")
    if host.lower().rstrip(".") not in hosts:
        raise not_found()
    return username


class WellKnownWebfinger:
    app = Klein()
    install_errors(app)

    def __init__(self, ctx: Context, auth: Any) -> None:
        self.ctx = ctx

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def webfinger(self, request: Any) -> bytes:
        request.setHeader(b"Access-Control-Allow-Origin", b"*")
        await require_enabled(self.ctx)
        raw = (request.args.get(b"resource") or [b""])[0].decode("utf-8", "replace")
        if not raw:
            raise FederationError(400, "The resource parameter is required.", "invalid_resource")
        row = await actors.local_actor(self.ctx, parse_resource(self.ctx.settings, raw))
        if row is None:
            raise not_found()
        if row["type"] == "Tombstone":
            return respond(request, tombstone_document(row["fid"]), JRD_JSON, 410)
        subject = f"acct:{row['preferred_username']}@{self.ctx.settings.hostname}"
        return respond(request, webfinger_document(subject, row["fid"]), JRD_JSON)


class WellKnownHostMeta:
    app = Klein()
    install_errors(app)

    def __init__(self, ctx: Context, auth: Any) -> None:
        self.ctx = ctx

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def host_meta(self, request: Any) -> bytes:
        request.setHeader(b"Access-Control-Allow-Origin", b"*")
        await require_enabled(self.ctx)
        request.setHeader(b"Content-Type", b"application/xrd+xml; charset=utf-8")
        return host_meta_xml(self.ctx.settings.base_url)
