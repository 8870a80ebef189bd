"""The HTTP tree: each API area is a Klein app mounted with putChild; make_site wraps it in our Site."""

from __future__ import annotations

import importlib
from typing import Any

from twisted.web.resource import Resource

from funkwhale import storage
from funkwhale.context import Context
from funkwhale.metrics.http import RequestMetrics
from funkwhale.web import spa
from funkwhale.web.auth import Auth
from funkwhale.web.metrics import MetricsPage
from funkwhale.web.site import FunkwhaleSite
from funkwhale.web.upload_gate import UploadGate

# (path under the root, "module:Class"); each class is built as Class(ctx, auth) and has a Klein `app`.
AREAS: list[tuple[str, str]] = [
    ("api/v1/health", "funkwhale.web.api.health:HealthApi"),
    ("api/v1/instance", "funkwhale.web.api.instance:InstanceApi"),
    ("api/v2/instance", "funkwhale.web.api.instance:InstanceV2Api"),
    (".well-known/nodeinfo", "funkwhale.activitypub.nodeinfo:WellKnownNodeinfo"),
    (".well-known/webfinger", "funkwhale.activitypub.webfinger:WellKnownWebfinger"),
    (".well-known/host-meta", "funkwhale.activitypub.webfinger:WellKnownHostMeta"),
    ("federation/actors", "funkwhale.activitypub.routes:ActorsApp"),
    ("federation/music", "funkwhale.activitypub.music_routes:MusicApp"),
    ("federation/shared", "funkwhale.activitypub.inbox:SharedInboxApp"),
    ("api/v1/federation/follows", "funkwhale.web.api.follows:FollowsApi"),
    ("api/v1/federation/inbox", "funkwhale.web.api.federation:InboxApi"),
    ("api/v1/federation/domains", "funkwhale.web.api.federation:DomainsApi"),
    ("api/v1/manage/moderation/instance-policies", "funkwhale.web.api.instance_policies:InstancePoliciesApi"),
    ("api/v1/federation/actors", "funkwhale.web.api.federation:FederationActorsApi"),
    ("api/v1/users", "funkwhale.web.api.users:UsersApi"),
    ("api/v1/auth", "funkwhale.web.api.auth:AuthApi"),
    ("api/v1/rate-limit", "funkwhale.web.api.ratelimit:RateLimitApi"),
    ("api/v1/oauth", "funkwhale.web.api.oauth:OAuthApi"),
    ("api/v1/artists", "funkwhale.web.api.artists:ArtistsApi"),
    ("api/v1/albums", "funkwhale.web.api.albums:AlbumsApi"),
    ("api/v1/tracks", "funkwhale.web.api.tracks:TracksApi"),
    ("api/v1/tags", "funkwhale.web.api.tags:TagsApi"),
    ("api/v1/licenses", "funkwhale.web.api.licenses:LicensesApi"),
    ("api/v1/search", "funkwhale.web.api.search:SearchApi"),
    ("api/v1/oembed", "funkwhale.web.api.oembed:OembedApi"),
    ("api/v1/listen", "funkwhale.web.api.listen:ListenApi"),
    ("api/v1/stream", "funkwhale.web.api.listen:StreamApi"),
    ("api/v1/attachments", "funkwhale.web.api.attachments:AttachmentsApi"),
    ("api/v1/libraries", "funkwhale.web.api.libraries:LibrariesApi"),
    ("api/v1/uploads", "funkwhale.web.api.uploads:UploadsApi"),
    ("api/v1/playlists", "funkwhale.web.api.playlists:PlaylistsApi"),
    ("api/v1/favorites", "funkwhale.web.api.favorites:FavoritesApi"),
    ("api/v1/history", "funkwhale.web.api.history:HistoryApi"),
    ("api/v1/moderation", "funkwhale.web.api.moderation:ModerationApi"),
    ("api/v1/radios", "funkwhale.web.api.radios:RadiosApi"),
    ("api/v1/federation/libraries", "funkwhale.web.api.federation_libraries:FederationLibrariesApi"),
    ("api/v1/federation/fetches", "funkwhale.web.api.federation_libraries:FederationFetchesApi"),
    ("api/v2/radios", "funkwhale.web.api.radios:RadiosV2Api"),
    ("api/v1/mutations", "funkwhale.web.api.mutations:MutationsApi"),
    ("api/v1/plugins", "funkwhale.web.api.plugins:PluginsApi"),
    ("api/v1/activity", "funkwhale.web.api.activity:ActivityApi"),
    ("api/v1/text-preview", "funkwhale.web.api.text_preview:TextPreviewApi"),
    ("rest", "funkwhale.subsonic.app:SubsonicApp"),
    ("api/subsonic/rest", "funkwhale.subsonic.app:SubsonicApp"),
]


class _NotFound(Resource):
    """Funkwhale's JSON 404, for paths under an API prefix that no area serves."""

    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setResponseCode(404)
        request.setHeader(b"Content-Type", b"application/json")
        return b'{"detail":"Not found."}'


class _Area(Resource):
    """An area's Klein resource behind one check: a path segment holding a NUL or bytes that are not UTF-8 names
    nothing (a JSON 404), and never reaches the routes (PostgreSQL refuses NUL; Klein logs bad UTF-8 as an error)."""

    isLeaf = True

    def __init__(self, area: Resource, path: str) -> None:
        super().__init__()
        self.area = area
        self.path = path

    def render(self, request: Any) -> Any:
        if not all(_readable(segment) for segment in request.postpath):  # prepath: our own names
            return _NotFound().render(request)
        request.route_area = self.path  # the metrics' route label (metrics.http.route_label)
        return self.area.render(request)


def _readable(segment: bytes) -> bool:
    """A path segment (percent-decoded) that is UTF-8 text without NUL."""
    try:
        return "\x00" not in segment.decode("utf-8")
    except UnicodeDecodeError:
        return False


class _Branch(Resource):
    """A path segment that only holds areas (`api/`, `api/v1/`): an unknown child is a JSON 404."""

    def getChild(self, path: bytes, request: Any) -> Resource:
        return _NotFound()


def _child(parent: Resource, name: bytes) -> Resource:
    existing = parent.children.get(name)
    if existing is None:
        existing = _Branch()
        parent.putChild(name, existing)
    return existing


def make_root(ctx: Context, auth: Auth) -> Resource:
    root = spa.Root(ctx.settings)
    for path, target in AREAS:
        module_name, _, class_name = target.partition(":")
        area = getattr(importlib.import_module(module_name), class_name)(ctx, auth)
        *parents, leaf = path.encode().split(b"/")
        node: Resource = root
        for name in parents:
            node = _child(node, name)
        node.putChild(leaf, _Area(area.app.resource(), path))
    return root


def make_site(ctx: Context, metrics: RequestMetrics | None = None) -> FunkwhaleSite:
    """The web listener's site; `metrics` (FUNKWHALE_METRICS on) counts its requests and serves /metrics."""
    auth = Auth(ctx)
    root = make_root(ctx, auth)
    root.putChild(b"metrics", MetricsPage(ctx, metrics, ctx.settings.metrics_token, need_token=True))
    site = FunkwhaleSite(root, upload_max_body=ctx.settings.upload_max_size)
    site.metrics = metrics
    site.displayTracebacks = False
    site.noisy = False
    site.secure_cookies = ctx.settings.protocol == "https"
    site.settings = ctx.settings
    site.upload_spool_dir = str(storage.incoming_dir(ctx.settings))
    site.upload_gate = UploadGate(ctx, auth, ctx.settings.upload_max_concurrent_per_user)
    site.body_timeout = ctx.settings.body_timeout
    site.body_min_rate = ctx.settings.body_min_rate
    return site
