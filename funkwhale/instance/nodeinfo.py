"""NodeInfo 2.0 and 2.1 documents, shaped as Funkwhale 1.4 publishes them (peers read `metadata.actorId`)."""

from __future__ import annotations

from importlib import metadata as package_metadata
from typing import Any

from funkwhale import cache
from funkwhale.config import Settings
from funkwhale.context import Context
from funkwhale.instance import store
from funkwhale.instance.settings import REPORT_TYPES, get, values
from funkwhale.music import formats

SCHEMA_20 = "http://nodeinfo.diaspora.software/ns/schema/2.0"
SCHEMA_21 = "http://nodeinfo.diaspora.software/ns/schema/2.1"
PATH_20 = "/api/v1/instance/nodeinfo/2.0/"
PATH_21 = "/api/v2/instance/nodeinfo/2.1/"

# What federation peers compare against: we speak Funkwhale 1.4's protocol.
COMPATIBLE_VERSION = "1.4.0"
NODEINFO_TTL = 300


def implementation_version() -> str:
    try:
        return package_metadata.version("funkwhale-twisted")
    except package_metadata.PackageNotFoundError:
        return "unknown"


def links(settings: Settings) -> dict[str, Any]:
    """The /.well-known/nodeinfo discovery document."""
    return {
        "links": [
            {"rel": SCHEMA_20, "href": settings.base_url + PATH_20},
            {"rel": SCHEMA_21, "href": settings.base_url + PATH_21},
        ]
    }


async def enabled(ctx: Context) -> bool:
    """False when an administrator switched nodeinfo off (the endpoints then answer 404)."""
    return bool(await get(ctx, "instance__nodeinfo_enabled"))


async def document(ctx: Context, version: str) -> dict[str, Any]:
    """The nodeinfo document for `version` ("2.0" or "2.1")."""

    async def library() -> dict[str, Any]:
        return await ctx.db.run(store.library_figures_txn, ctx.settings.base_url, desc="instance.nodeinfo")

    # The library figures come from the cache until the catalog changes (downloads may lag by NODEINFO_TTL);
    # users, favorites and listenings are counted each time (accounts are also made by the CLI, offline).
    found = await cache.cached(ctx, "nodeinfo", "library", [cache.CATALOG], library, ttl=NODEINFO_TTL)
    usage = await ctx.db.run(store.usage_figures_txn, desc="instance.nodeinfo_usage")
    return build(ctx.settings, version, await values(ctx), {**found["counts"], **usage}, found["allowed_domains"])


def build(
    settings: Settings, version: str, prefs: dict[str, Any], counts: dict[str, int], allowed_domains: list[str]
) -> dict[str, Any]:
    stats = prefs["instance__nodeinfo_stats_enabled"]
    software: dict[str, Any] = {"name": "funkwhale", "version": COMPATIBLE_VERSION}
    if version == "2.1":
        software["repository"] = "https://dev.funkwhale.audio/funkwhale/funkwhale"
        software["homepage"] = "https://funkwhale.audio"
    users = {
        "total": counts["users_total"],
        "activeHalfyear": counts["users_active_halfyear"],
        "activeMonth": counts["users_active_month"],
    }
    library: dict[str, Any] = {
        "federationEnabled": prefs["federation__enabled"],
        "anonymousCanListen": not prefs["common__api_authentication_required"],
    }
    tracks, artists, albums = counts["tracks"], counts["artists"], counts["albums"]
    # Funkwhale 1.4 (instance/stats.py get_music_duration): hours as a float, 0 when there is no music.
    hours = counts["music_seconds"] / 3600 if counts["music_seconds"] else 0
    favorites, listenings, downloads = counts["favorites"], counts["listenings"], counts["downloads"]
    if stats:
        library.update(
            tracks={"total": tracks}, artists={"total": artists}, albums={"total": albums}, music={"hours": hours}
        )
    public_index = prefs["federation__public_index"]
    meta: dict[str, Any] = {
        "actorId": f"{settings.base_url}/federation/actors/service",
        "private": prefs["instance__nodeinfo_private"],
        "nodeName": prefs["instance__name"],
        "shortDescription": prefs["instance__short_description"],
        "longDescription": prefs["instance__long_description"],
        "rules": prefs["instance__rules"],
        "terms": prefs["instance__terms"],
        "contactEmail": prefs["instance__contact_email"],
        "banner": prefs["instance__banner"],
        "defaultUploadQuota": prefs["users__upload_quota"],
        "library": library,
        "supportedUploadExtensions": sorted(formats.IMPORTED_EXTENSIONS),
        "allowList": {
            "enabled": prefs["moderation__allow_list_enabled"],
            "domains": allowed_domains if prefs["moderation__allow_list_public"] else None,
        },
        "reportTypes": [
            {"type": key, "label": label, "anonymous": key in prefs["moderation__unauthenticated_report_types"]}
            for key, label in REPORT_TYPES
        ],
        "funkwhaleSupportMessageEnabled": prefs["instance__funkwhale_support_message_enabled"],
        "instanceSupportMessage": prefs["instance__instance_support_message"],
        "endpoints": {
            "knownNodes": f"{settings.base_url}/api/v1/federation/domains/",
            "channels": f"{settings.base_url}/federation/index/channels" if public_index else None,
            "libraries": f"{settings.base_url}/federation/index/libraries" if public_index else None,
        },
        "usage": {
            "favorites": {"tracks": {"total": favorites}},
            "listenings": {"total": listenings},
            "downloads": {"total": downloads},
        }
        if stats
        else {},
        "implementation": {"name": "funkwhale-twisted", "version": implementation_version()},
    }
    if version == "2.1":
        meta["languages"] = []
        meta["location"] = ""
        meta["features"] = [
            name
            for name, on in (
                ("channels", prefs["audio__channels_enabled"]),
                ("podcasts", prefs["audio__channels_enabled"]),
                ("federation", prefs["federation__enabled"]),
            )
            if on
        ]
        meta["content"] = {
            "local": {"artists": artists, "releases": albums, "recordings": tracks, "hoursOfContent": int(hours)},
            "topMusicCategories": [],
            "topPodcastCategories": [],
        }
    return {
        "version": version,
        "software": software,
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": prefs["users__registration_enabled"],
        "usage": {
            "users": users if stats else {},
            **({"localPosts": 0, "localComments": 0} if version == "2.1" else {}),
        },
        "metadata": meta,
    }
