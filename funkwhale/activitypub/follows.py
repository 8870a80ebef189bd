"""Library follows: the inbound Follow / Accept / Reject / Undo handlers, and what the client API does (follow,
undo, approve, reject), each sending the matching activity to the other side when it is remote.

Origin rules: a Follow must come from the follower and name a library of ours; Accept / Reject of a follow we sent
only from the followed library's owner; Undo only from the follower.
"""

from __future__ import annotations

import importlib
import uuid
from typing import Any

from twisted.logger import Logger

from funkwhale.activitypub import delivery_store, follow_store, outbox, remote_actors
from funkwhale.activitypub.routing import inbound, object_id
from funkwhale.context import Context
from funkwhale.errors import Invalid

log = Logger()


def follow_activity(row: dict[str, Any]) -> dict[str, Any]:
    """The Follow of a follow row, as embedded in its Accept / Reject / Undo."""
    return {"id": row["fid"], "type": "Follow", "actor": row["follower_fid"], "object": row["library_fid"]}


def _auto_approved(library: dict[str, Any], follower_is_local: bool) -> bool | None:
    """Funkwhale's rule: a public library accepts at once (and an `instance` one its local followers)."""
    if library["privacy_level"] == "everyone" or (library["privacy_level"] == "instance" and follower_is_local):
        return True
    return None


async def _answer(ctx: Context, row: dict[str, Any], kind: str) -> None:
    """Send Accept or Reject of a remote follower's follow, from the library's owner."""
    if row["follower_is_local"]:
        return
    activity = {"type": kind, "actor": row["actor_fid"], "object": follow_activity(row)}
    await outbox.send(ctx, activity, to=[row["follower_fid"]])


@inbound("Follow")
async def on_follow(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    target = object_id(activity)
    if not target or not remote_actors.is_local(ctx, target):
        raise Invalid(detail=f"not an object of this server: {target!r}", code="not_local")
    follow_fid = activity.get("id")
    if not isinstance(follow_fid, str) or not remote_actors.same_origin(follow_fid, sender["fid"]):
        raise Invalid(detail="the Follow's id must be on the follower's server", code="invalid_follow")
    library = await ctx.db.run(follow_store.library_by_fid_txn, target, desc="federation.library_by_fid")
    if library is None or not library["is_local"]:
        raise Invalid(detail=f"no library {target}", code="not_found", kind="not_found")
    approved = _auto_approved(library, follower_is_local=False)

    def follow_txn(txn: Any) -> dict[str, Any] | None:
        follow_id = follow_store.upsert_follow_txn(txn, follow_fid, sender["id"], library["id"], approved)
        follow_store.notify_txn(txn, follow_fid, library["actor_id"])
        return follow_store.follow_by_id_txn(txn, follow_id)

    row = await ctx.db.run(follow_txn, desc="federation.follow")
    if row is not None and row["approved"]:
        await _answer(ctx, row, "Accept")


async def _decided_by_owner(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> dict[str, Any] | None:
    """The follow an Accept / Reject is about, when it is ours and the sender owns the followed library."""
    fid = object_id(activity)
    row = await ctx.db.run(follow_store.follow_by_fid_txn, fid or "", desc="federation.follow_by_fid")
    if row is None or not row["follower_is_local"]:
        return None
    if row["library_actor_id"] != sender["id"]:
        raise Invalid(detail="only the library's owner answers a follow", code="forbidden", kind="forbidden")
    return row


@inbound("Accept")
async def on_accept(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    row = await _decided_by_owner(ctx, activity, sender)
    if row is None:
        return
    await ctx.db.run(follow_store.set_approved_txn, row["id"], True, desc="federation.follow_accepted")
    await _start_scan(ctx, row)


@inbound("Reject")
async def on_reject(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    row = await _decided_by_owner(ctx, activity, sender)
    if row is not None:
        await ctx.db.run(follow_store.set_approved_txn, row["id"], False, desc="federation.follow_rejected")


@inbound("Undo")
async def on_undo(ctx: Context, activity: dict[str, Any], sender: dict[str, Any]) -> None:
    """Undo of a Follow (other Undos are ignored): only by the follower."""
    row = await ctx.db.run(follow_store.follow_by_fid_txn, object_id(activity) or "", desc="federation.follow_by_fid")
    if row is None:
        return
    if row["actor_id"] != sender["id"]:
        raise Invalid(detail="only the follower undoes a follow", code="forbidden", kind="forbidden")
    await ctx.db.run(follow_store.delete_follow_txn, row["id"], desc="federation.unfollow")


async def _start_scan(ctx: Context, row: dict[str, Any]) -> None:
    """Scan a remote library once its follow is accepted (fed-music's `scan.start_scan`, when installed)."""
    try:
        scan = importlib.import_module("funkwhale.activitypub.scan")
    except ModuleNotFoundError:
        return
    await scan.start_scan(ctx, row["library_id"], row["actor_id"])


# --- the client API's operations (the caller is a local actor) ---


async def follow_library(ctx: Context, actor: dict[str, Any], library_uuid: uuid.UUID) -> dict[str, Any]:
    """Follow a library (local: decided here; remote: a Follow sent to its owner); the follow row."""
    library = await ctx.db.run(follow_store.library_by_uuid_txn, library_uuid, desc="federation.library_by_uuid")
    if library is None:
        raise Invalid(fields={"target": [f"Object with uuid={library_uuid} does not exist."]})
    if library["actor_id"] == actor["id"]:
        raise Invalid(fields={"target": ["You cannot follow your own library."]})
    fid = f"{actor['fid']}#follows/{uuid.uuid4()}"
    approved = _auto_approved(library, follower_is_local=True) if library["is_local"] else None
    follow = {"id": fid, "type": "Follow", "actor": actor["fid"], "object": library["fid"]}

    def follow_txn(txn: Any) -> dict[str, Any] | None:
        if follow_store.follows_library_txn(txn, actor["id"], library["id"]):
            raise Invalid(fields={"non_field_errors": ["The fields actor, target must make a unique set."]})
        follow_id = follow_store.upsert_follow_txn(txn, fid, actor["id"], library["id"], approved)
        if library["is_local"]:  # the owner's notification: a Follow activity kept here
            delivery_store.insert_sent_activity_txn(txn, actor["id"], {"@context": [], **follow}, library["fid"])
            follow_store.notify_txn(txn, fid, library["actor_id"])
        return follow_store.follow_by_id_txn(txn, follow_id)

    row = await ctx.db.run(follow_txn, desc="federation.follow_library")
    assert row is not None
    if not library["is_local"]:
        await outbox.send(ctx, follow, to=[library["actor_fid"]])
    return row


async def undo_follow(ctx: Context, actor: dict[str, Any], follow_uuid: uuid.UUID) -> bool:
    """Drop one of the caller's follows (an Undo to a remote library's owner); False when it is not theirs."""
    row = await ctx.db.run(follow_store.follow_of_txn, follow_uuid, actor["id"], desc="federation.follow_of")
    if row is None:
        return False
    await ctx.db.run(follow_store.delete_follow_txn, row["id"], desc="federation.unfollow")
    if not row["actor_is_local"]:
        undo = {"type": "Undo", "actor": actor["fid"], "object": follow_activity(row)}
        await outbox.send(ctx, undo, to=[row["actor_fid"]])
    return True


async def decide_follow(ctx: Context, owner: dict[str, Any], follow_uuid: uuid.UUID, approved: bool) -> bool:
    """The library's owner accepts or rejects a follow (the follower is told); False when it is not theirs."""
    row = await ctx.db.run(follow_store.follow_to_txn, follow_uuid, owner["id"], desc="federation.follow_to")
    if row is None:
        return False
    await ctx.db.run(follow_store.set_approved_txn, row["id"], approved, desc="federation.decide_follow")
    await _answer(ctx, row, "Accept" if approved else "Reject")
    return True
