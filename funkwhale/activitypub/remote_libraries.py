"""Remote libraries as users reach them: fetched by their id, or by an actor's id or `@user@host` handle (that
actor's known libraries), stored with their actor; remote objects fetched on request (`remote_fetch` rows).

Every request goes through the SSRF-guarded Fetcher, signed as the service actor."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from funkwhale.activitypub import actors, ingest, policy, remote_actors, remote_libraries_store
from funkwhale.activitypub.fetch import Fetcher, FetchError
from funkwhale.context import Context
from funkwhale.errors import Invalid

_HANDLE = re.compile(r"^@?([^@\s/?#]+)@([^@\s/?#]+)$")


def _refuse(message: str, field: str = "fid") -> Invalid:
    return Invalid(fields={field: [message]}, code="invalid")


async def _fetcher(ctx: Context) -> tuple[Fetcher, Any]:
    return Fetcher.from_settings(ctx.settings), await actors.signer(ctx)


async def resolve_handle(ctx: Context, handle: str) -> str:
    """The actor id a `@user@host` handle names (WebFinger on that host)."""
    match = _HANDLE.match(handle)
    if match is None:
        raise _refuse("Enter an URL or a @user@domain handle.")
    user, host = match.groups()
    resource = quote(f"acct:{user}@{host}", safe=":@")
    fetcher, _ = await _fetcher(ctx)
    jrd = await fetcher.get_json(
        f"https://{host}/.well-known/webfinger?resource={resource}", accept="application/jrd+json"
    )
    links = jrd.get("links") if isinstance(jrd, dict) else None
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str):
            if remote_actors.domain_of(link["href"]) == remote_actors.domain_of(f"https://{host}"):
                return link["href"]
    raise _refuse(f"{handle} names no actor on {host}")


async def store_remote_library(ctx: Context, doc: dict[str, Any]) -> dict[str, Any]:
    """Store a fetched Library document with its actor (fetched when unknown); its row."""
    library = ingest.parse_library(doc)
    actor = await remote_actors.get_actor(ctx, library.actor_fid)
    if actor.get("is_local"):
        raise _refuse("This is a local library.")
    return await ingest.store_library(ctx, library, actor["id"])


async def fetch_libraries(ctx: Context, viewer_actor_id: int, target: str) -> list[dict[str, Any]]:
    """The libraries `target` names: a remote library's id, or an actor (id or handle) and its known libraries;
    rows for `library_json`. Raises Invalid with the reason when it cannot be fetched or is something else."""
    try:
        by, object_id = await _libraries_of(ctx, target.strip())
    except FetchError as e:
        raise _refuse(f"Could not fetch it: {e}") from None
    return await ctx.db.run(
        remote_libraries_store.libraries_txn, by, object_id, viewer_actor_id, desc="federation.libraries"
    )


async def _libraries_of(ctx: Context, target: str) -> tuple[str, int]:
    """("id", a library's id) or ("actor", an actor's id): what `target` names, fetched and stored."""
    if not target.startswith(("https://", "http://")):
        target = await resolve_handle(ctx, target)
    if remote_actors.is_local(ctx, target):
        raise _refuse("This is a local object: find it in the library instead.")
    if (await policy.policy_for(ctx, {"domain": remote_actors.domain_of(target), "fid": target})).block_all:
        raise _refuse(f"{remote_actors.domain_of(target)} is blocked on this server.")
    fetcher, signer = await _fetcher(ctx)
    doc = await fetcher.get_object(target, signer=signer)
    if doc.get("type") == "Library":
        return "id", (await store_remote_library(ctx, doc))["id"]
    if doc.get("type") in remote_actors.ACTOR_TYPES:
        return "actor", (await remote_actors.get_actor(ctx, target, refresh=True))["id"]
    raise _refuse(f"{target} is neither a library nor an actor.")


async def remote_library(ctx: Context, library_uuid: str, viewer_actor_id: int | None) -> dict[str, Any] | None:
    return await ctx.db.run(
        remote_libraries_store.library_by_uuid_txn, library_uuid, viewer_actor_id, desc="federation.library"
    )


async def fetch_object(ctx: Context, actor_id: int, url: str) -> int:
    """Fetch a remote object for the actor (a `remote_fetch` row, its id): a Library is stored, an actor cached,
    an Audio stored into its (fetched) library. The row says how it went."""
    fetch_id = await ctx.db.run(remote_libraries_store.insert_fetch_txn, url, actor_id, desc="fetch.insert")
    status, detail, object_type, object_id = "finished", {}, None, None
    try:
        if not url.startswith(("https://", "http://")):
            url = await resolve_handle(ctx, url)
        if remote_actors.is_local(ctx, url):
            raise _refuse("This is a local object.", "object")
        fetcher, signer = await _fetcher(ctx)
        doc = await fetcher.get_object(url, signer=signer)
        kind = doc.get("type")
        if kind == "Library":
            object_type, object_id = "library", (await store_remote_library(ctx, doc))["id"]
        elif kind in remote_actors.ACTOR_TYPES:
            object_type, object_id = "actor", (await remote_actors.get_actor(ctx, url, refresh=True))["id"]
        elif kind == "Audio":
            audio = ingest.parse_audio(doc)
            library_doc = await fetcher.get_object(audio.library_fid, signer=signer)
            library = await store_remote_library(ctx, library_doc)
            object_type, object_id = "upload", await ingest.ingest_audio(ctx, doc, library)
        else:
            status, detail = "skipped", {"error_code": "unhandled_type", "type": str(kind)[:100]}
    except FetchError as e:
        status, detail = "errored", {"error_code": "http", "message": str(e)[:1000]}
    except Invalid as e:
        status, detail = "errored", {"error_code": "validation", "message": e.detail[:1000]}
    await ctx.db.run(
        remote_libraries_store.finish_fetch_txn, fetch_id, status, detail, object_type, object_id, desc="fetch.done"
    )
    return fetch_id


async def get_fetch(ctx: Context, fetch_id: int, actor_id: int) -> dict[str, Any] | None:
    return await ctx.db.run(remote_libraries_store.fetch_txn, fetch_id, actor_id, desc="fetch.get")
