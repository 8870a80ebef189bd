"""Sending an activity: recorded with one delivery per remote inbox, each carried by its own durable task.

await outbox.send(ctx, {"type": "Accept", "actor": owner_fid, "object": follow}, to=[follower_fid])
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from typing import Any

from twisted.logger import Logger

from funkwhale.activitypub import delivery_store, remote_actors
from funkwhale.activitypub.fetch import FetchError
from funkwhale.activitypub.serializers import CONTEXT
from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.tasks import queue

log = Logger()

DELIVER_TASK = "federation.deliver"


def with_id(activity: dict[str, Any]) -> dict[str, Any]:
    """The activity with its `@context` and an `id` (`<actor>#<type>/<uuid>` unless it has one)."""
    kind = str(activity["type"]).lower()
    return {"@context": CONTEXT, "id": f"{activity['actor']}#{kind}/{uuid.uuid4()}", **activity}


def interleaved(inboxes: Iterable[str]) -> list[str]:
    """Inboxes ordered host by host in turn (the first of each host, then the second...), so that the consumers
    taking the delivery tasks in order spread over hosts rather than queue at one host's concurrency cap."""
    by_host: dict[str, list[str]] = {}
    for inbox in sorted(inboxes):
        by_host.setdefault(remote_actors.domain_of(inbox), []).append(inbox)
    rounds = itertools.zip_longest(*by_host.values())
    return [inbox for batch in rounds for inbox in batch if inbox is not None]


async def _inbox_of(ctx: Context, fid: str) -> str | None:
    """The inbox to deliver to for remote actor `fid` (its shared inbox first); None for an unreachable one."""
    try:
        actor = await remote_actors.get_actor(ctx, fid)
    except (FetchError, Invalid) as e:
        log.warn("not delivering to {fid}: {error}", fid=fid, error=str(e))
        return None
    return actor["shared_inbox_url"] or actor["inbox_url"]


async def send(
    ctx: Context,
    activity: dict[str, Any],
    *,
    to: list[str] | tuple[str, ...] = (),
    library_followers: int | None = None,
) -> None:
    """Record `activity` (sent by local actor `activity["actor"]`) and deliver it to the actors of `to` and the
    approved remote followers of library `library_followers`, once per inbox (shared inboxes first). Local
    recipients are skipped: what they should see is written by the caller."""
    activity = with_id(activity)
    remote = [fid for fid in dict.fromkeys(to) if not remote_actors.is_local(ctx, fid)]
    known = await ctx.db.run(
        delivery_store.fresh_inboxes_txn, remote, remote_actors.STALE_AFTER, desc="federation.fresh_inboxes"
    )
    inboxes = set(known.values())
    for fid in remote:
        if fid not in known and (inbox := await _inbox_of(ctx, fid)):
            inboxes.add(inbox)
    obj = activity.get("object")
    object_fid = obj.get("id") if isinstance(obj, dict) else obj

    def record_txn(txn: Any) -> list[queue.Message]:
        actor_id = delivery_store.local_actor_id_txn(txn, activity["actor"])
        if actor_id is None:
            raise ValueError(f"{activity['actor']} is not a local actor")
        targets = set(inboxes)
        if library_followers is not None:
            targets.update(delivery_store.follower_inboxes_txn(txn, library_followers))
        activity_id = delivery_store.insert_sent_activity_txn(
            txn, actor_id, activity, object_fid if isinstance(object_fid, str) else None
        )
        ordered = interleaved(inbox for inbox in targets if not remote_actors.is_local(ctx, inbox))
        pairs = [(inbox, remote_actors.domain_of(inbox)) for inbox in ordered]
        delivery_ids = delivery_store.insert_deliveries_txn(txn, activity_id, pairs)
        return queue.enqueue_durable_many_txn(txn, DELIVER_TASK, [(delivery_id,) for delivery_id in delivery_ids])

    messages = await ctx.db.run(record_txn, desc="federation.send")
    await queue.push(ctx, *messages)
