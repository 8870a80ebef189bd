"""SQL for the federation layer: local actors as their documents need them, the service actor."""

from __future__ import annotations

from typing import Any

from funkwhale.users import store as users_store
from funkwhale.users.actors import NewActor

_ACTOR_COLUMNS = """
    a.id, a.fid, a.url, a.type, a.preferred_username, a.name, a.summary, a.inbox_url, a.outbox_url,
    a.shared_inbox_url, a.followers_url, a.following_url, a.public_key, a.manually_approves_followers,
    att.uuid AS avatar_uuid, att.mimetype AS avatar_mimetype, att.url AS avatar_url
"""


def local_actor_txn(txn: Any, fid: str, username: str) -> dict[str, Any] | None:
    """A local actor (or a deleted account's Tombstone) by its exact id, else the actor of the account named
    `username` (any case)."""
    txn.execute(
        f"""
        SELECT {_ACTOR_COLUMNS}
        FROM actor a
        LEFT JOIN users u ON u.actor_id = a.id
        LEFT JOIN attachment att ON att.id = u.avatar_id
        WHERE a.id IN (
            SELECT id FROM actor WHERE fid = %(fid)s AND (private_key IS NOT NULL OR type = 'Tombstone')
            UNION ALL
            SELECT actor_id FROM users WHERE lower(username) = lower(%(username)s) AND actor_id IS NOT NULL
        )
        ORDER BY a.fid = %(fid)s DESC
        LIMIT 1
        """,
        {"fid": fid, "username": username},
    )
    row = txn.fetchone()
    return dict(row) if row else None


def signing_key_txn(txn: Any, fid: str) -> str | None:
    """The private key PEM of a local actor (None for a remote or deleted one)."""
    txn.execute("SELECT private_key FROM actor WHERE fid = %s", (fid,))
    row = txn.fetchone()
    return row["private_key"] if row else None


def insert_service_actor_txn(txn: Any, actor: NewActor) -> bool:
    """Insert the instance's Service actor unless it exists; True when this call inserted it."""
    users_store.ensure_domain_txn(txn, actor.domain)
    inserted = users_store.insert_actor_txn(txn, actor, "Service", if_absent=True) is not None
    txn.execute(
        "UPDATE domain SET service_actor_id = (SELECT id FROM actor WHERE fid = %s) WHERE name = %s",
        (actor.fid, actor.domain),
    )
    return inserted
