"""Moderation policies on remote domains and actors (the MRF-style `instance_policy` table): blocked senders are
refused at the inbox (403); silenced ones (activity or notifications) get no inbox items; `reject_media` tells the
music handlers not to fetch their media."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funkwhale.activitypub import inbox_store
from funkwhale.context import Context


@dataclass(frozen=True)
class Policy:
    block_all: bool = False
    silence_activity: bool = False
    silence_notifications: bool = False
    reject_media: bool = False

    @property
    def notifies(self) -> bool:
        return not (self.silence_activity or self.silence_notifications)


async def policy_for(ctx: Context, actor: dict[str, Any]) -> Policy:
    """What applies to an actor (row with `fid` and `domain`): its own policy and its domain's, combined."""
    rows = await ctx.db.run(inbox_store.policies_txn, actor["domain"], actor["fid"], desc="federation.policies")
    return Policy(**{name: any(row[name] for row in rows) for name in Policy.__dataclass_fields__})
