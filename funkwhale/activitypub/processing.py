"""The worker's side of the inbox: `federation.process_inbox` runs the registered handler of a stored activity."""

from __future__ import annotations

from twisted.logger import Logger

from funkwhale.activitypub import inbox_store, routing, store
from funkwhale.activitypub.inbox import PROCESS_TASK
from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.tasks.registry import task

log = Logger()


@task(PROCESS_TASK, max_retries=5)
async def process_inbox(ctx: Context, activity_id: int) -> None:
    """Run the handler of received activity `activity_id`; a refusal (Invalid) is logged, not retried."""
    row = await ctx.db.run(inbox_store.received_txn, activity_id, desc="federation.received")
    if row is None:
        return
    activity = row["payload"]
    handler = routing.handler_for(activity)
    sender = await ctx.db.run(store.actor_by_fid_txn, row["actor_fid"], desc="activitypub.actor_by_fid")
    if handler is None or sender is None:
        return
    try:
        await handler(ctx, activity, sender)
    except Invalid as e:
        log.warn(
            "activity {fid} ({type}) from {actor} refused: {reason}",
            fid=activity.get("id"), type=activity.get("type"), actor=sender["fid"], reason=e.detail,
        )  # fmt: skip
