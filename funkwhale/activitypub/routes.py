"""/federation/actors/<username>[/outbox|/followers|/following]: local actors and their collections.

Answered as ActivityPub JSON (`application/activity+json`) unless the caller is a browser asking for HTML,
which is redirected to the web app's profile page. All of it is 404 when federation is switched off.
"""

from __future__ import annotations

from typing import Any

from klein import Klein

from funkwhale.activitypub import actors, inbox
from funkwhale.activitypub.http import ACTIVITY_JSON, install_errors, not_found, require_enabled, respond
from funkwhale.activitypub.serializers import actor_document, ordered_collection, tombstone_document
from funkwhale.context import Context

_AP_TYPES = ("application/activity+json", "application/ld+json")


def wants_html(request: Any) -> bool:
    """True for a browser: it accepts text/html and no ActivityPub media type."""
    accept = (request.getHeader(b"accept") or b"").decode("latin-1").lower()
    return "text/html" in accept and not any(t in accept for t in _AP_TYPES)


class ActorsApp:
    app = Klein()
    install_errors(app)

    def __init__(self, ctx: Context, auth: Any) -> None:
        self.ctx = ctx

    async def _actor(self, username: str) -> dict[str, Any]:
        await require_enabled(self.ctx)
        row = await actors.local_actor(self.ctx, username)
        if row is None:
            raise not_found()
        return row

    @app.route("/<username>", methods=["GET", "HEAD"], strict_slashes=False)
    async def actor(self, request: Any, username: str) -> bytes:
        row = await self._actor(username)
        if row["type"] == "Tombstone":
            return respond(request, tombstone_document(row["fid"]), ACTIVITY_JSON, 410)
        if wants_html(request):
            request.redirect(row["url"].encode())
            return b""
        return respond(request, actor_document(row, self.ctx.settings.base_url), ACTIVITY_JSON)

    @app.route("/<username>/<any(outbox,followers,following):collection>", methods=["GET", "HEAD"])
    async def collection(self, request: Any, username: str, collection: str) -> bytes:
        row = await self._actor(username)
        if row["type"] == "Tombstone":
            raise not_found()
        # Nothing is published, followed or following yet: the tables that feed these land with delivery.
        return respond(request, ordered_collection(row[f"{collection}_url"], 0), ACTIVITY_JSON)

    @app.route("/<username>/inbox", methods=["POST"])
    async def inbox(self, request: Any, username: str) -> bytes:
        """An actor's inbox: as the shared inbox (recipients come from the activity's addressing)."""
        row = await self._actor(username)
        if row["type"] == "Tombstone":
            raise not_found()
        return await inbox.receive(self.ctx, request)
