"""SQL for the federation layer: local actors as their documents need them, the service actor, remote actors
and who may read a library."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from funkwhale.errors import Invalid
from funkwhale.users import store as users_store
from funkwhale.users.actors import NewActor

if TYPE_CHECKING:
    from funkwhale.activitypub.remote_actors import RemoteActor

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


def actor_by_fid_txn(txn: Any, fid: str) -> dict[str, Any] | None:
    """Any actor row (local or remote) by its id, without its private key."""
    txn.execute(
        """
        SELECT id, fid, url, type, preferred_username, domain, name, summary, inbox_url, outbox_url,
               shared_inbox_url, followers_url, following_url, public_key, manually_approves_followers,
               creation_date, last_fetch_date, private_key IS NOT NULL AS is_local
        FROM actor WHERE fid = %s
        """,
        (fid,),
    )
    row = txn.fetchone()
    return dict(row) if row else None


def upsert_remote_actor_txn(txn: Any, actor: RemoteActor) -> dict[str, Any]:
    """Insert or refresh a remote actor (its domain too); a local actor of that id is left alone (Invalid)."""
    users_store.ensure_domain_txn(txn, actor.domain)
    txn.execute(
        """
        INSERT INTO actor (fid, url, type, preferred_username, domain, name, summary, inbox_url, outbox_url,
                           shared_inbox_url, followers_url, following_url, public_key, manually_approves_followers,
                           last_fetch_date)
        VALUES (%(fid)s, %(url)s, %(type)s, %(preferred_username)s, %(domain)s, %(name)s, %(summary)s,
                %(inbox_url)s, %(outbox_url)s, %(shared_inbox_url)s, %(followers_url)s, %(following_url)s,
                %(public_key)s, %(manually_approves_followers)s, now())
        ON CONFLICT (fid) DO UPDATE SET
            url = EXCLUDED.url, type = EXCLUDED.type, preferred_username = EXCLUDED.preferred_username,
            name = EXCLUDED.name, summary = EXCLUDED.summary, inbox_url = EXCLUDED.inbox_url,
            outbox_url = EXCLUDED.outbox_url, shared_inbox_url = EXCLUDED.shared_inbox_url,
            followers_url = EXCLUDED.followers_url, following_url = EXCLUDED.following_url,
            public_key = EXCLUDED.public_key, manually_approves_followers = EXCLUDED.manually_approves_followers,
            last_fetch_date = now()
        WHERE actor.private_key IS NULL AND actor.domain = EXCLUDED.domain
        RETURNING id
        """,
        dataclasses.asdict(actor),
    )
    if txn.fetchone() is None:
        raise Invalid(f"{actor.fid} is a local actor or moved domains", code="invalid_actor")
    row = actor_by_fid_txn(txn, actor.fid)
    assert row is not None
    return row


def may_read_library_txn(txn: Any, library_id: int, actor_id: int) -> bool:
    """True when actor `actor_id` may read library `library_id`: the library is public (`everyone`), the actor
    owns it or has an approved follow of it, or the actor is a server's own actor (type Service or Application)
    and an actor of its domain has an approved follow of it (servers fetch for their followers as that actor)."""
    txn.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM library l
            WHERE l.id = %(library)s AND (l.privacy_level = 'everyone' OR l.actor_id = %(actor)s)
        ) OR EXISTS (
            SELECT 1 FROM library_follow lf WHERE lf.target_id = %(library)s AND lf.approved
            AND (lf.actor_id = %(actor)s OR lf.actor_id IN (
                SELECT follower.id FROM actor server JOIN actor follower ON follower.domain = server.domain
                WHERE server.id = %(actor)s AND server.type IN ('Service', 'Application')
            ))
        ) AS allowed
        """,
        {"library": library_id, "actor": actor_id},
    )
    return bool(txn.fetchone()["allowed"])


def library_is_public_txn(txn: Any, library_id: int) -> bool:
    txn.execute("SELECT privacy_level = 'everyone' AS public FROM library WHERE id = %s", (library_id,))
    row = txn.fetchone()
    return bool(row and row["public"])
