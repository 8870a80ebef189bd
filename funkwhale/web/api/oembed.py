"""/api/v1/oembed/: oEmbed (rich type) for a page of the web app showing a track, an album, an artist or a
playlist, answered as Funkwhale 1.4 does, with an `<iframe>` of the embeddable player (`/front/embed.html`).

Only what anyone may play is embeddable (the player in someone else's page is anonymous): content in `everyone`
libraries and public playlists. Anything else reads as "No <kind> matching id", as a missing object does."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from funkwhale.instance import settings as instance_settings
from funkwhale.music.catalog import store
from funkwhale.music.visibility import Viewer
from funkwhale.playlists import store as playlists_store
from funkwhale.web.api.browse import viewer_of
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import ApiError, field_error
from funkwhale.web.json import json_response
from funkwhale.web.params import query, query_int

EMBED_PATH = "/front/embed.html"
THUMBNAIL_SIZE = 200  # medium_square_crop
# Paths of the web app (Funkwhale's, and ours for playlists) and the kind of object each shows.
PAGES = [
    (re.compile(r"^/library/tracks/(\d+)/?$"), "track"),
    (re.compile(r"^/library/albums/(\d+)/?$"), "album"),
    (re.compile(r"^/library/artists/(\d+)/?$"), "artist"),
    (re.compile(r"^/(?:library/)?playlists/(\d+)/?$"), "playlist"),
]
HEIGHTS = {"track": 150, "album": 400, "artist": 400, "playlist": 400}


def invalid(message: str) -> ApiError:
    """DRF's object-level validation error."""
    return ApiError(400, message, "invalid", {"non_field_errors": [message]})


def resolve(url: str) -> tuple[str, int]:
    """(kind, id) of a web app page address; a 400 for anything else."""
    path = urlsplit(url).path
    for pattern, kind in PAGES:
        found = pattern.match(path)
        if found and len(found.group(1)) < 18:
            return kind, int(found.group(1))
    raise invalid(f"Unsupported url: {url}")


def full_name(track: dict[str, Any]) -> str:
    """Funkwhale's `Track.full_name`: artist - album - title."""
    parts = [track["artist"]["name"], track["album"]["title"] if track["album"] else None, track["title"]]
    return " - ".join(p for p in parts if p)


class OembedApi(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def oembed(self, request: Any) -> bytes:
        await viewer_of(self.ctx, self.auth, request)
        if query(request, "format") != "json":
            raise field_error("format", f'"{query(request, "format") or ""}" is not a valid choice.')
        url = query(request, "url") or ""
        if not re.match(r"^https?://[^/\s]+", url):
            raise field_error("url", "Enter a valid URL.")
        kind, object_id = resolve(url)
        found = await self._describe(kind, object_id)
        if found is None:
            raise invalid(f"No {kind} matching id {object_id}")
        name = await instance_settings.get(self.ctx, "instance__name")
        base = self.ctx.settings.base_url.rstrip("/")
        width = query_int(request, "maxwidth") or 600
        height = min(HEIGHTS[kind], query_int(request, "maxheight") or HEIGHTS[kind])
        src = f"{base}{EMBED_PATH}?{urlencode({'type': kind, 'id': object_id})}"
        body = {
            "version": "1.0",
            "type": "rich",
            "provider_name": name or "Funkwhale",
            "provider_url": base,
            "height": height,
            "width": width,
            **found,
            "html": f'<iframe width="{width}" height="{height}" scrolling="no" frameborder="no"'
            f' src="{html.escape(src)}"></iframe>',
        }
        return json_response(request, body)

    async def _describe(self, kind: str, object_id: int) -> dict[str, Any] | None:
        """title, description, author and thumbnail of a public object, or None."""
        anyone = Viewer()
        base = self.ctx.settings.base_url.rstrip("/")
        if kind == "playlist":
            row = await self.ctx.db.run(playlists_store.detail_txn, anyone, object_id, desc="oembed.playlist")
            if row is None or row["privacy_level"] != "everyone":
                return None
            covers = row["album_covers"]
            return {
                "title": row["name"],
                "description": row["name"],
                "author_name": row["name"],
                "author_url": f"{base}/library/playlists/{object_id}",
                **self._thumbnail(covers[0] if covers else None),
            }
        row = await self.ctx.db.run(store.detail_txn, kind, anyone, object_id, desc=f"oembed.{kind}")
        if row is None:
            return None
        obj = self.renderer.render(kind, row)
        if kind == "track":
            artist = obj["artist"]
            cover = obj["cover"] or (obj["album"] or {}).get("cover")
            title, description = f"{obj['title']} by {artist['name']}", full_name(obj)
        elif kind == "album":
            artist = obj["artist"]
            cover = obj["cover"]
            title = description = f"{obj['title']} by {artist['name']}"
        else:
            artist = obj
            with_cover = [a["cover"] for a in sorted(obj["albums"], key=lambda a: -a["id"]) if a["cover"]]
            cover = obj["cover"] or (with_cover[0] if with_cover else None)
            title = description = obj["name"]
        return {
            "title": title,
            "description": description,
            "author_name": artist["name"],
            "author_url": f"{base}/library/artists/{artist['id']}",
            **self._thumbnail(cover),
        }

    def _thumbnail(self, cover: dict[str, Any] | None) -> dict[str, Any]:
        """`thumbnail_*` of a cover (attachment JSON, or an attachment row), or nothing."""
        if cover is None:
            return {}
        if "urls" not in cover:
            cover = self.renderer.cover(cover)
        return {
            "thumbnail_url": cover["urls"]["medium_square_crop"],
            "thumbnail_width": THUMBNAIL_SIZE,
            "thumbnail_height": THUMBNAIL_SIZE,
        }
