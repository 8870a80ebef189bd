"""What the catalog areas (artists, albums, tracks, tags, search) share: who is looking, list parameters,
and one Klein app serving `/` (list), `/<id>/` (detail) and `/<id>/libraries/` for a kind of object."""

from __future__ import annotations

from typing import Any, ClassVar

from klein import Klein

from funkwhale.activitypub import remote_libraries, remote_libraries_store
from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.music import uploads
from funkwhale.music.catalog import counts, store
from funkwhale.music.normalize import fold
from funkwhale.music.uploads.serializers import library_json
from funkwhale.music.uploads.store import LibraryFilters
from funkwhale.music.visibility import Viewer
from funkwhale.web.api.federation_libraries import fetch_json
from funkwhale.web.area import Area, api_app
from funkwhale.web.auth import Auth
from funkwhale.web.errors import ApiError, field_error, not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import (
    query,
    query_bool,
    query_int,
    query_uuid,
    query_values,
    read_body,
    to_int,
)


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


# The name lookups of each kind's list, as Funkwhale's filter sets spell them (tracks filter on their title).
NAME_FIELD = {"track": "title", "album": "", "artist": "name"}
NAME_LOOKUPS = ("exact", "iexact", "icontains", "startswith")


def filters_of(request: Any, kind: str) -> store.Filters:
    """Funkwhale's list filters: q, tag (repeatable, all must match), artist, album, library (uuid), id
    (repeatable), scope (all|me), playable, content_category, has_albums, hidden, favorites (tracks), mbid, license
    (tracks), and the name lookups (`title__icontains`...)."""
    scope = query(request, "scope") or "all"
    if scope not in ("all", "me"):
        raise field_error("scope", f'"{scope}" is not a valid scope.')
    ids = tuple(to_int(v, "id", "Enter a number.") for v in query_values(request, "id"))
    playable = query_bool(request, "playable")
    return store.Filters(
        q=fold(query(request, "q") or ""),
        tags=tuple(query_values(request, "tag")),
        artist=query_int(request, "artist"),
        album=query_int(request, "album"),
        library=query_uuid(request, "library"),
        ids=ids,
        scope_me=scope == "me",
        playable=playable is not False,
        content_category=query(request, "content_category") or None,
        has_albums=query_bool(request, "has_albums"),
        hidden=query_bool(request, "hidden"),
        favorites=query_bool(request, "favorites"),
        mbid=query_uuid(request, "mbid"),
        license=query(request, "license") or None,
        name_lookups=name_lookups(request, NAME_FIELD[kind]),
    )


def name_lookups(request: Any, field: str) -> tuple[tuple[str, str], ...]:
    """The (lookup, value) pairs of `field`, `field__iexact`... given (non-blank) in the query."""
    if not field:
        return ()
    found = []
    for lookup in NAME_LOOKUPS:
        value = query(request, field if lookup == "exact" else f"{field}__{lookup}")
        if value:
            found.append((lookup, value))
    return tuple(found)


def scope_is_me(request: Any) -> bool:
    """`scope=me`: only the caller's own objects (playlists, radios); any other scope lists all that are visible."""
    return query(request, "scope") == "me"


def ordering_of(request: Any) -> tuple[str, ...]:
    return tuple(part.strip() for v in query_values(request, "ordering") for part in v.split(",") if part.strip())


class CatalogArea(Area):
    """GET `/` (a page of objects) and `/<id>/` (one object) for `kind`; subclasses set `kind` and their `app`
    (`catalog_app`)."""

    kind: ClassVar[str]

    async def index(self, request: Any) -> bytes:
        viewer = await viewer_of(self.ctx, self.auth, request)
        page = Page.from_request(request)
        listing = store.Listing(viewer, filters_of(request, self.kind), ordering_of(request), page.size, page.offset)
        rows = await self.ctx.db.read(store.page_txn, self.kind, listing, desc=f"catalog.{self.kind}s")
        total = await counts.total(self.ctx, self.kind, listing, len(rows))
        return page.respond(request, total, self.renderer.page(self.kind, rows))

    async def create(self, request: Any) -> bytes:
        """1.4's channel album creation: `title` and `artist` (one of the caller's channel artists) required."""
        await self.auth.require(request, "write:libraries")
        data = read_body(request)
        errors = {name: ["This field is required."] for name in ("title", "artist") if data.get(name) in (None, "")}
        if "artist" not in errors:
            errors["artist"] = [f"Object with id={data['artist']} does not exist."]
        raise ApiError(400, f"artist: {errors['artist'][0]}", "invalid", errors)

    async def destroy(self, request: Any, object_id: int) -> bytes:
        """1.4 deletes an album or a track only from the caller's own channel: not found for any other."""
        await self.auth.require(request, "write:libraries")
        raise not_found()

    async def libraries(self, request: Any, object_id: int) -> bytes:
        """The libraries the caller may see that hold (finished uploads of) the object, as 1.4 lists them."""
        viewer = Viewer.of(await self.auth.require(request, "read:libraries"))
        page = Page.from_request(request)
        filters = LibraryFilters(scope_all=True, holding=(self.kind, object_id))
        count, rows = await uploads.list_libraries(self.ctx, viewer, filters, page.size, page.offset)
        return page.respond(request, count, rows, lambda row: library_json(row, self.ctx.settings.domain))

    async def _object(self, request: Any, object_id: int, scope: str) -> tuple[Viewer, dict[str, Any]]:
        """The caller (with `scope`) and the object they may see; 404 when they may not."""
        viewer = Viewer.of(await self.auth.require(request, scope))
        row = await self.ctx.db.read(store.detail_txn, self.kind, viewer, object_id, desc=f"catalog.{self.kind}")
        if row is None:
            raise not_found("No such object.")
        return viewer, row

    async def fetches(self, request: Any, object_id: int) -> bytes:
        """The caller's fetches of the object's federation id, newest first."""
        viewer, row = await self._object(request, object_id, "read:libraries")
        page = Page.from_request(request)
        total, rows = await self.ctx.db.run(
            remote_libraries_store.fetches_of_url_txn, row["fid"], viewer.actor_id, page.size, page.offset,
            desc="catalog.fetches",
        )  # fmt: skip
        return page.respond(request, total, rows, lambda r: fetch_json(r, self.ctx.settings.domain))

    async def fetch(self, request: Any, object_id: int) -> bytes:
        """Fetch the object again from its server (201, the fetch: a local object's is errored, as there is no
        server to ask)."""
        viewer, row = await self._object(request, object_id, "write:libraries")
        if viewer.actor_id is None:
            raise not_found("No such object.")
        fetch_id = await remote_libraries.fetch_object(self.ctx, viewer.actor_id, row["fid"])
        fetched = await remote_libraries.get_fetch(self.ctx, fetch_id, viewer.actor_id)
        if fetched is None:
            raise not_found()
        return json_response(request, fetch_json(fetched, self.ctx.settings.domain), status=201)

    async def mutations(self, request: Any, object_id: int) -> bytes:
        """Suggested edits of the object: none, as this server takes none (see `suggest`)."""
        await self._object(request, object_id, "read:edits")
        page = Page.from_request(request)
        return page.respond(request, 0, [])

    async def suggest(self, request: Any, object_id: int) -> bytes:
        """1.4 takes edit suggestions here for moderators to apply; this server edits no catalog metadata."""
        await self._object(request, object_id, "write:edits")
        raise ApiError(400, "Suggesting edits is not supported on this server.", "edits_not_supported")

    async def detail(self, request: Any, object_id: int) -> bytes:
        viewer = await viewer_of(self.ctx, self.auth, request)
        row = await self.ctx.db.read(store.detail_txn, self.kind, viewer, object_id, desc=f"catalog.{self.kind}")
        if row is None:
            raise not_found("No such object.")
        return json_response(request, self.renderer.render(self.kind, row, with_description=True))


# The routes every kind has: (rule, methods, CatalogArea method).
ROUTES = [
    ("/", ["GET", "HEAD"], "index"),
    ("/<int:object_id>/libraries/", ["GET", "HEAD"], "libraries"),
    ("/<int:object_id>/fetches/", ["GET", "HEAD"], "fetches"),
    ("/<int:object_id>/fetches/", ["POST"], "fetch"),
    ("/<int:object_id>/mutations/", ["GET", "HEAD"], "mutations"),
    ("/<int:object_id>/mutations/", ["POST"], "suggest"),
    ("/<int:object_id>/", ["GET", "HEAD"], "detail"),
]


def catalog_app(create: bool = False, delete: bool = False) -> Klein:
    """A kind's Klein app. 1.4 creates albums, and deletes albums and tracks, only in the caller's own channels
    (another issue's): `create` and `delete` add those routes, answered as 1.4 answers someone without a
    channel; a kind without them answers 405 with an Allow that says so."""
    app = api_app()
    for rule, methods, name in ROUTES:
        app.route(rule, methods=methods, strict_slashes=False)(getattr(CatalogArea, name))
    if create:
        app.route("/", methods=["POST"], strict_slashes=False)(CatalogArea.create)
    if delete:
        app.route("/<int:object_id>/", methods=["DELETE"], strict_slashes=False)(CatalogArea.destroy)
    return app
