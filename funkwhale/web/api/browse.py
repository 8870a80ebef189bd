"""What the catalog areas (artists, albums, tracks, tags, search) share: who is looking, list parameters,
and one Klein app serving `/` (list) and `/<id>/` (detail) for a kind of object."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from klein import Klein

from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.music.catalog import store
from funkwhale.music.catalog.serializers import Renderer
from funkwhale.music.normalize import fold
from funkwhale.music.visibility import Viewer
from funkwhale.web.auth import Auth
from funkwhale.web.errors import ApiError, field_error, install_api_errors, not_found
from funkwhale.web.json import json_response, query
from funkwhale.web.pagination import Page

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


async def viewer_of(ctx: Context, auth: Auth, request: Any, scope: str = "read:libraries") -> Viewer:
    """The caller as a Viewer. Anonymous callers get 401 unless `common__api_authentication_required` is off;
    tokens need `scope` (read:libraries by default), as in Funkwhale."""
    principal = await auth.optional(request)
    if principal is None:
        if await instance_settings.get(ctx, "common__api_authentication_required"):
            raise ApiError(401, "Authentication credentials were not provided.", "not_authenticated")
        return Viewer()
    if not principal.allows(scope):
        raise ApiError(403, f"Your token lacks the {scope} scope.", "permission_denied")
    return Viewer.of(principal)


def _values(request: Any, name: str) -> list[str]:
    return [v.decode("utf-8", "replace") for v in request.args.get(name.encode(), []) if v.strip()]


def _int(request: Any, name: str) -> int | None:
    raw = query(request, name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise field_error(name, "Enter a number.") from None


def _bool(request: Any, name: str) -> bool | None:
    raw = (query(request, name) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    if raw in ("", "unknown", "none"):
        return None
    raise field_error(name, "Select a valid choice.")


def filters_of(request: Any) -> store.Filters:
    """Funkwhale's list filters: q, tag (repeatable, all must match), artist, album, library (uuid), id
    (repeatable), scope (all|me), playable, content_category, has_albums."""
    library = query(request, "library") or None
    if library is not None:
        try:
            library = uuid.UUID(library)
        except ValueError:
            raise field_error("library", "Enter a valid UUID.") from None
    scope = query(request, "scope") or "all"
    if scope not in ("all", "me"):
        raise field_error("scope", f'"{scope}" is not a valid scope.')
    try:
        ids = tuple(int(v) for v in _values(request, "id"))
    except ValueError:
        raise field_error("id", "Enter a number.") from None
    playable = _bool(request, "playable")
    return store.Filters(
        q=fold(query(request, "q") or ""),
        tags=tuple(_values(request, "tag")),
        artist=_int(request, "artist"),
        album=_int(request, "album"),
        library=library,
        ids=ids,
        scope_me=scope == "me",
        playable=playable is not False,
        content_category=query(request, "content_category") or None,
        has_albums=_bool(request, "has_albums"),
    )


def ordering_of(request: Any) -> tuple[str, ...]:
    return tuple(part.strip() for v in _values(request, "ordering") for part in v.split(",") if part.strip())


def page_or_404(page: Page, rows: list[Any]) -> None:
    """DRF answers 404 "Invalid page." for a page past the end."""
    if page.number > 1 and not rows:
        raise not_found("Invalid page.")


class CatalogArea:
    """GET `/` (a page of objects) and `/<id>/` (one object) for `kind`; subclasses set `kind`."""

    app = Klein()
    install_api_errors(app)
    kind: ClassVar[str]

    def __init__(self, ctx: Context, auth: Auth) -> None:
        self.ctx = ctx
        self.auth = auth
        self.renderer = Renderer(ctx.settings.base_url)

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        viewer = await viewer_of(self.ctx, self.auth, request)
        page = Page.from_request(request)
        listing = store.Listing(viewer, filters_of(request), ordering_of(request), page.size, page.offset)
        total, rows = await self.ctx.db.run(store.list_txn, self.kind, listing, desc=f"catalog.{self.kind}s")
        page_or_404(page, rows)
        results = [self.renderer.render(self.kind, row) for row in rows]
        return json_response(request, page.body(request, total, results))

    @app.route("/<int:object_id>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def detail(self, request: Any, object_id: int) -> bytes:
        viewer = await viewer_of(self.ctx, self.auth, request)
        row = await self.ctx.db.run(store.detail_txn, self.kind, viewer, object_id, desc=f"catalog.{self.kind}")
        if row is None:
            raise not_found("No such object.")
        return json_response(request, self.renderer.render(self.kind, row, with_description=True))
