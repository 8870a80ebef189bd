"""SQL of received activities: moderation policies of a sender, the stored `activity` and its `inbox_item`s."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import Json


def policies_txn(txn: Any, domain: str, actor_fid: str) -> list[dict[str, Any]]:
    """The active instance policies aimed at a domain or at an actor."""
    txn.execute(
        """
        SELECT p.block_all, p.silence_activity, p.silence_notifications, p.reject_media
        FROM instance_policy p LEFT JOIN actor a ON a.id = p.target_actor_id
        WHERE p.is_active AND (p.target_domain = %s OR a.fid = %s)
        """,
        (domain, actor_fid),
    )
    return txn.fetchall()


def local_recipients_txn(txn: Any, actor_fids: list[str], collections: list[str]) -> list[int]:
    """Local actors among `actor_fids`, and local approved followers of the libraries whose followers
    collection is among `collections`."""
    txn.execute(
        """
        SELECT id FROM actor WHERE fid = ANY(%(fids)s) AND private_key IS NOT NULL
        UNION
        SELECT lf.actor_id FROM library_follow lf
        JOIN library l ON l.id = lf.target_id JOIN actor f ON f.id = lf.actor_id
        WHERE l.followers_url = ANY(%(collections)s) AND lf.approved AND f.private_key IS NOT NULL
        """,
        {"fids": actor_fids, "collections": collections},
    )
    return sorted(row["id"] for row in txn.fetchall())


def store_received_txn(
    txn: Any, activity: dict[str, Any], actor_id: int, object_fid: str | None, recipients: list[int]
) -> tuple[int, bool]:
    """Store a received activity unless its id is known, and add inbox items for `recipients` either way;
    (its row id, whether it is new)."""
    txn.execute(
        "INSERT INTO activity (fid, actor_id, type, object_fid, payload) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (fid) DO NOTHING RETURNING id",
        (activity["id"], actor_id, activity["type"], object_fid, Json(activity)),
    )
    row = txn.fetchone()
    new = row is not None
    if row is None:
        txn.execute("SELECT id FROM activity WHERE fid = %s", (activity["id"],))
        row = txn.fetchone()
    activity_id = row["id"]
    for recipient in recipients:
        txn.execute(
            "INSERT INTO inbox_item (activity_id, actor_id) VALUES (%s, %s) ON CONFLICT (activity_id, actor_id) "
            "DO NOTHING",
            (activity_id, recipient),
        )
    return activity_id, new


def received_txn(txn: Any, activity_id: int) -> dict[str, Any] | None:
    """A stored activity with its sender's fid."""
    txn.execute(
        "SELECT act.payload, a.fid AS actor_fid FROM activity act JOIN actor a ON a.id = act.actor_id "
        "WHERE act.id = %s",
        (activity_id,),
    )
    row = txn.fetchone()
    return dict(row) if row else None


# --- a local actor's inbox items (the client API's notifications) ---

_ITEM_SELECT = """
SELECT i.id, i.type AS item_type, i.is_read, act.uuid, act.fid, act.type, act.payload, act.creation_date,
       a.fid AS actor_fid, a.url AS actor_url, a.preferred_username AS actor_preferred_username,
       a.name AS actor_name, a.domain AS actor_domain, a.summary AS actor_summary, a.type AS actor_type,
       a.creation_date AS actor_creation_date, a.last_fetch_date AS actor_last_fetch_date,
       a.manually_approves_followers AS actor_manually_approves_followers,
       lf.uuid AS follow_uuid, lf.fid AS follow_fid, lf.approved AS follow_approved,
       lf.creation_date AS follow_creation_date, l.uuid AS library_uuid, l.fid AS library_fid, l.name AS library_name
FROM inbox_item i JOIN activity act ON act.id = i.activity_id JOIN actor a ON a.id = act.actor_id
LEFT JOIN library_follow lf ON lf.fid = CASE WHEN act.type = 'Follow' THEN act.fid ELSE act.object_fid END
LEFT JOIN library l ON l.id = lf.target_id
"""


def inbox_items_txn(
    txn: Any, actor_id: int, is_read: bool | None, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(count, a page of an actor's inbox items), newest first, optionally only read or unread ones."""
    where = "i.actor_id = %s" + ("" if is_read is None else " AND i.is_read = %s")
    params: list[Any] = [actor_id] if is_read is None else [actor_id, is_read]
    txn.execute(f"SELECT count(*) AS n FROM inbox_item i WHERE {where}", params)
    count = txn.fetchone()["n"]
    txn.execute(_ITEM_SELECT + f" WHERE {where} ORDER BY i.id DESC LIMIT %s OFFSET %s", [*params, limit, offset])
    return count, txn.fetchall()


def inbox_item_txn(txn: Any, actor_id: int, item_id: int) -> dict[str, Any] | None:
    txn.execute(_ITEM_SELECT + " WHERE i.actor_id = %s AND i.id = %s", (actor_id, item_id))
    return txn.fetchone()


def mark_read_txn(txn: Any, actor_id: int, item_ids: list[int] | None, is_read: bool = True) -> int:
    """Mark an actor's inbox items (all of them when `item_ids` is None) read; how many changed."""
    if item_ids is None:
        txn.execute(
            "UPDATE inbox_item SET is_read = %s WHERE actor_id = %s AND is_read <> %s", (is_read, actor_id, is_read)
        )
    else:
        txn.execute(
            "UPDATE inbox_item SET is_read = %s WHERE actor_id = %s AND id = ANY(%s) AND is_read <> %s",
            (is_read, actor_id, item_ids, is_read),
        )
    return txn.rowcount
