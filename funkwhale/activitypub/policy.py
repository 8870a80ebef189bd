"""Moderation policies on remote domains and actors (the MRF-style `instance_policy` table): blocked senders are
refused at the inbox (403); silenced ones (activity or notifications) get no inbox items; `reject_media` tells the
music handlers not to fetch their media. Moderators manage them through `create_policy` and the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funkwhale.activitypub import inbox_store, policy_store
from funkwhale.activitypub.remote_actors import domain_of
from funkwhale.context import Context
from funkwhale.db.rows import required
from funkwhale.errors import Invalid


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


# --- moderators' management of policies ---------------------------------------------------------------------------


def clean_target(value: Any) -> tuple[str, str]:
    """(`domain`, normalised host[:port]) or (`actor`, `user@domain`) from `{type, id}`; Invalid otherwise."""
    if not isinstance(value, dict) or value.get("type") not in ("domain", "actor"):
        raise Invalid.field("target", 'Expected {"type": "domain" | "actor", "id": ...}.')
    raw = value.get("id")
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 255:
        raise Invalid.field("target", "The target's id is required.")
    if value["type"] == "actor":
        username, _, domain = raw.strip().lstrip("@").rpartition("@")
        host = domain_of(f"https://{domain}") if username and not set(domain) & set("/ ") else ""
        if not host:
            raise Invalid.field("target", "An actor is named user@domain.")
        return "actor", f"{username}@{host}"
    host = domain_of(f"https://{raw.strip()}") if not set(raw.strip()) & set("/@ ") else ""
    if not host:
        raise Invalid.field("target", f"Not a domain name: {raw!r}.")
    return "domain", host


def clean_values(body: dict[str, Any]) -> dict[str, Any]:
    """The flags and summary to write (those present in `body`); Invalid on a wrong type."""
    values: dict[str, Any] = {}
    for flag in policy_store.FLAGS:
        if flag in body:
            value = body[flag]
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
            if not isinstance(value, bool):
                raise Invalid.field(flag, "Must be a valid boolean.")
            values[flag] = value
    if "summary" in body:
        summary = body["summary"] or ""
        if not isinstance(summary, str) or len(summary) > 10000:
            raise Invalid.field("summary", "At most 10000 characters.")
        values["summary"] = summary
    return values


def policy_json(row: dict[str, Any]) -> dict[str, Any]:
    """A policy as Funkwhale's ManageInstancePolicy."""
    if row["target_domain"] is not None:
        target = {"type": "domain", "id": row["target_domain"]}
    else:
        target = {"type": "actor", "id": f"{row['target_username']}@{row['target_actor_domain']}"}
    creator = f"{row['creator_username']}@{row['creator_domain']}" if row["creator_username"] else None
    return {
        "id": row["id"],
        "uuid": row["uuid"],
        "target": target,
        "creation_date": row["creation_date"],
        "actor": creator,
        "summary": row["summary"],
        **{flag: row[flag] for flag in policy_store.FLAGS},
    }


async def create_policy(ctx: Context, body: dict[str, Any], creator_actor_id: int | None) -> dict[str, Any]:
    """A new policy from Funkwhale's ManageInstancePolicyRequest; Invalid for a bad or already covered target."""
    kind, name = clean_target(body.get("target"))
    values = clean_values(body)

    def create_txn(txn: Any) -> dict[str, Any]:
        actor_id = None
        if kind == "actor":
            username, _, domain = name.rpartition("@")
            actor_id = policy_store.actor_id_by_handle_txn(txn, username, domain)
            if actor_id is None:
                raise Invalid.field("target", f"Unknown actor {name}: fetch it first.")
        policy_id = policy_store.create_policy_txn(
            txn, name if kind == "domain" else None, actor_id, values, creator_actor_id
        )
        if policy_id is None:
            raise Invalid.field("target", f"A policy for {name} exists already.")
        return required(policy_store.policy_txn(txn, policy_id), "the new policy")

    return policy_json(await ctx.db.run(create_txn, desc="policies.create"))
