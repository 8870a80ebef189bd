"""Inbound Update and Delete of an actor: only the actor itself may send them. An Update makes us fetch the
actor's document again from its origin (the embedded copy is not trusted); a Delete drops its follows, its
libraries and their uploads. Deletes of other objects fall through to here when no handler names their type,
and are ignored."""

from __future__ import annotations

from typing import Any

from funkwhale.activitypub import follow_store, remote_actors
from funkwhale.activitypub.routing import inbound, object_id
from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.music.uploads import remove_media


async def on_update_actor(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    if object_id(activity) != sender["fid"]:
        raise Invalid(detail="an actor may update only itself", code="forbidden", kind="forbidden")
    await remote_actors.refetch(ctx, sender["fid"])


for _kind in sorted(remote_actors.ACTOR_TYPES):
    inbound("Update", _kind)(on_update_actor)


@inbound("Delete")
async def on_delete(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    """Delete of the sender itself; Deletes of objects no other handler knows (a Note's Tombstone) are ignored."""
    if object_id(activity) != sender["fid"]:
        return
    files = await ctx.db.run(follow_store.forget_actor_txn, sender["id"], desc="federation.forget_actor")
    await remove_media(ctx, files)
