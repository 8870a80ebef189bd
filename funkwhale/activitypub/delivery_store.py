"""SQL of outgoing activities: the `activity` row we send, its `delivery` rows (one per remote inbox) and their
outcome."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import Json


def local_actor_id_txn(txn: Any, fid: str) -> int | None:
    """The id of a local actor (one with a key)."""
    txn.execute("SELECT id FROM actor WHERE fid = %s AND private_key IS NOT NULL", (fid,))
    row = txn.fetchone()
    return row["id"] if row else None


def fresh_inboxes_txn(txn: Any, fids: list[str], fresh_for: float) -> dict[str, str]:
    """{fid: inbox (shared inbox first)} of the remote actors among `fids` fetched less than `fresh_for` s ago."""
    txn.execute(
        """
        SELECT fid, COALESCE(shared_inbox_url, inbox_url) AS inbox FROM actor
        WHERE fid = ANY(%s) AND private_key IS NULL AND inbox_url IS NOT NULL
        AND last_fetch_date > now() - %s * interval '1 second'
        """,
        (fids, fresh_for),
    )
    return {row["fid"]: row["inbox"] for row in txn.fetchall()}


def follower_inboxes_txn(txn: Any, library_id: int) -> list[str]:
    """The inboxes (shared inbox first) of the remote actors with an approved follow of a library."""
    txn.execute(
        """
        SELECT DISTINCT COALESCE(a.shared_inbox_url, a.inbox_url) AS inbox
        FROM library_follow lf JOIN actor a ON a.id = lf.actor_id
        WHERE lf.target_id = %s AND lf.approved AND a.private_key IS NULL AND a.inbox_url IS NOT NULL
        """,
        (library_id,),
    )
    return [row["inbox"] for row in txn.fetchall()]


def insert_sent_activity_txn(txn: Any, actor_id: int, activity: dict[str, Any], object_fid: str | None) -> int:
    txn.execute(
        "INSERT INTO activity (fid, actor_id, type, object_fid, payload) VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (activity["id"], actor_id, activity["type"], object_fid, Json(activity)),
    )
    return txn.fetchone()["id"]


def insert_deliveries_txn(txn: Any, activity_id: int, inboxes: list[tuple[str, str]]) -> list[int]:
    """Pending deliveries of an activity to (inbox, host) pairs, in one statement, in their order; the ids of
    those created (an inbox that already has one is skipped)."""
    if not inboxes:
        return []
    txn.execute(
        """
        INSERT INTO delivery (activity_id, inbox_url, host)
        SELECT %s, u.inbox, u.host FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS u(inbox, host, n)
        ORDER BY u.n
        ON CONFLICT (activity_id, inbox_url) DO NOTHING RETURNING id
        """,
        (activity_id, [inbox for inbox, _ in inboxes], [host for _, host in inboxes]),
    )
    return sorted(row["id"] for row in txn.fetchall())


def delivery_txn(txn: Any, delivery_id: int) -> dict[str, Any] | None:
    """A delivery with what its attempt needs: the payload and the sending actor's id."""
    txn.execute(
        """
        SELECT d.id, d.inbox_url, d.host, d.status, d.attempts, act.payload, a.fid AS actor_fid
        FROM delivery d JOIN activity act ON act.id = d.activity_id JOIN actor a ON a.id = act.actor_id
        WHERE d.id = %s
        """,
        (delivery_id,),
    )
    row = txn.fetchone()
    return dict(row) if row else None


def record_attempt_txn(txn: Any, delivery_id: int, status: str, error: str, retry_in: float | None) -> None:
    """Count an attempt: delivered, failed for good, or pending again in `retry_in` seconds."""
    txn.execute(
        """
        UPDATE delivery SET status = %s, attempts = attempts + 1, last_attempt_date = now(), last_error = %s,
            next_attempt_date = now() + COALESCE(%s, 0) * interval '1 second'
        WHERE id = %s
        """,
        (status, error[:2000], retry_in, delivery_id),
    )


def postpone_txn(txn: Any, delivery_id: int, seconds: float) -> None:
    """Push the next attempt back without counting one (the host is busy or its circuit is open)."""
    txn.execute(
        "UPDATE delivery SET next_attempt_date = now() + %s * interval '1 second' WHERE id = %s",
        (seconds, delivery_id),
    )
