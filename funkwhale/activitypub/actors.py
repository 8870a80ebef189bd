"""Local actors as peers see them: each account's Person, and the instance's Service actor."""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from funkwhale.activitypub import store
from funkwhale.activitypub.fetch import Signer
from funkwhale.config import Settings
from funkwhale.context import Context
from funkwhale.threads import run_cpu
from funkwhale.users.actors import actor_fid, build_local_actor

log = Logger()

# Funkwhale's name for the instance actor (NodeInfo metadata.actorId); it shares the accounts' namespace.
SERVICE_USERNAME = "service"


def service_actor_fid(settings: Settings) -> str:
    return actor_fid(settings, SERVICE_USERNAME)


async def ensure_service_actor(ctx: Context) -> None:
    """Create the Service actor and its RSA key once (a no-op when it exists)."""
    fid = service_actor_fid(ctx.settings)
    if await ctx.db.run(store.signing_key_txn, fid, desc="activitypub.service_key"):
        return
    actor = await run_cpu(build_local_actor, ctx.settings, SERVICE_USERNAME)
    if await ctx.db.run(store.insert_service_actor_txn, actor, desc="activitypub.insert_service_actor"):
        log.info("created the service actor {fid}", fid=fid)
    elif not await ctx.db.run(store.signing_key_txn, fid, desc="activitypub.service_key"):
        log.warn(
            "the service actor {fid} cannot be created: an account is named {name!r}", fid=fid, name=SERVICE_USERNAME
        )


async def local_actor(ctx: Context, username: str) -> dict[str, Any] | None:
    """The actor row of `username` (an account, or the service actor), with its avatar; None if unknown.

    The web port answers while the tree is still starting: a request for the service actor that comes before
    ServiceActorSetup has made it makes it (idempotent).
    """
    row = await ctx.db.run(
        store.local_actor_txn, actor_fid(ctx.settings, username), username, desc="activitypub.local_actor"
    )
    if row is None and username == SERVICE_USERNAME:
        await ensure_service_actor(ctx)
        row = await ctx.db.run(
            store.local_actor_txn, actor_fid(ctx.settings, username), username, desc="activitypub.local_actor"
        )
    return row


async def signer(ctx: Context, fid: str | None = None) -> Signer | None:
    """What signs outgoing requests as local actor `fid` (default: the service actor); None without a key."""
    fid = fid or service_actor_fid(ctx.settings)
    if fid == service_actor_fid(ctx.settings):
        await ensure_service_actor(ctx)
    key = await ctx.db.run(store.signing_key_txn, fid, desc="activitypub.signing_key")
    return Signer.for_actor(fid, key) if key else None


class ServiceActorSetup(Service):
    """Makes sure the service actor exists before the roles start (every role may sign with it)."""

    name = "service-actor"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def startService(self) -> Deferred:
        super().startService()
        return Deferred.fromCoroutine(ensure_service_actor(self.ctx))
