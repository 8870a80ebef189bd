"""SQL of library follows (`library_follow`), for the inbound handlers and the client API."""

from __future__ import annotations

import uuid
from typing import Any

from funkwhale.music.uploads import store as uploads_store

# A follow (lf) with its follower (follower_*), its library (library_*) and the library's owner (actor_*): what
# follow_json renders, and what the handlers check.
_FOLLOW_SELECT = """
SELECT lf.id, lf.uuid, lf.fid, lf.approved, lf.creation_date, lf.modification_date, lf.actor_id, lf.target_id,
       f.fid AS follower_fid, f.url AS follower_url, f.preferred_username AS follower_preferred_username,
       f.name AS follower_name, f.domain AS follower_domain, f.summary AS follower_summary,
       f.type AS follower_type, f.creation_date AS follower_creation_date,
       f.last_fetch_date AS follower_last_fetch_date,
       f.manually_approves_followers AS follower_manually_approves_followers,
       f.private_key IS NOT NULL AS follower_is_local,
       l.id AS library_id, l.uuid AS library_uuid, l.fid AS library_fid, l.name AS library_name,
       l.description AS library_description, l.privacy_level AS library_privacy_level,
       l.creation_date AS library_creation_date, l.actor_id AS library_actor_id,
       (SELECT count(*) FROM upload u WHERE u.library_id = l.id) AS library_uploads_count,
       (SELECT COALESCE(sum(u.size), 0)::bigint FROM upload u
        WHERE u.library_id = l.id AND u.import_status = 'finished') AS library_size,
       a.fid AS actor_fid, a.url AS actor_url, a.preferred_username AS actor_preferred_username,
       a.name AS actor_name, a.domain AS actor_domain, a.summary AS actor_summary, a.type AS actor_type,
       a.creation_date AS actor_creation_date, a.last_fetch_date AS actor_last_fetch_date,
       a.manually_approves_followers AS actor_manually_approves_followers,
       a.private_key IS NOT NULL AS actor_is_local
FROM library_follow lf
JOIN actor f ON f.id = lf.actor_id
JOIN library l ON l.id = lf.target_id
JOIN actor a ON a.id = l.actor_id
"""


def _one(txn: Any, where: str, params: list[Any]) -> dict[str, Any] | None:
    txn.execute(_FOLLOW_SELECT + f" WHERE {where}", params)
    row = txn.fetchone()
    return dict(row) if row else None


def follow_by_fid_txn(txn: Any, fid: str) -> dict[str, Any] | None:
    return _one(txn, "lf.fid = %s", [fid])


def follow_by_id_txn(txn: Any, follow_id: int) -> dict[str, Any] | None:
    return _one(txn, "lf.id = %s", [follow_id])


def follow_of_txn(txn: Any, follow_uuid: uuid.UUID, follower_id: int) -> dict[str, Any] | None:
    """A follow made by actor `follower_id`."""
    return _one(txn, "lf.uuid = %s AND lf.actor_id = %s", [follow_uuid, follower_id])


def follow_to_txn(txn: Any, follow_uuid: uuid.UUID, owner_id: int) -> dict[str, Any] | None:
    """A follow of a library owned by actor `owner_id`."""
    return _one(txn, "lf.uuid = %s AND l.actor_id = %s", [follow_uuid, owner_id])


def follows_of_txn(txn: Any, follower_id: int, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """(count, a page of the follows actor `follower_id` made), newest first."""
    txn.execute("SELECT count(*) AS n FROM library_follow WHERE actor_id = %s", (follower_id,))
    count = txn.fetchone()["n"]
    txn.execute(
        _FOLLOW_SELECT + " WHERE lf.actor_id = %s ORDER BY lf.creation_date DESC, lf.id DESC LIMIT %s OFFSET %s",
        (follower_id, limit, offset),
    )
    return count, txn.fetchall()


def all_follows_of_txn(txn: Any, follower_id: int) -> list[dict[str, Any]]:
    """Every follow of actor `follower_id`: uuid, library uuid, approved."""
    txn.execute(
        "SELECT lf.uuid, l.uuid AS library, lf.approved FROM library_follow lf JOIN library l ON l.id = lf.target_id "
        "WHERE lf.actor_id = %s ORDER BY lf.id",
        (follower_id,),
    )
    return txn.fetchall()


def follows_to_txn(txn: Any, library_id: int, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """(count, a page of the follows of a library), newest first."""
    txn.execute("SELECT count(*) AS n FROM library_follow WHERE target_id = %s", (library_id,))
    count = txn.fetchone()["n"]
    txn.execute(
        _FOLLOW_SELECT + " WHERE lf.target_id = %s ORDER BY lf.creation_date DESC, lf.id DESC LIMIT %s OFFSET %s",
        (library_id, limit, offset),
    )
    return count, txn.fetchall()


def library_by_fid_txn(txn: Any, fid: str) -> dict[str, Any] | None:
    """A library by its id, with its owner's id and fid."""
    txn.execute(
        "SELECT l.id, l.uuid, l.fid, l.privacy_level, l.actor_id, a.fid AS actor_fid, "
        "a.private_key IS NOT NULL AS is_local FROM library l JOIN actor a ON a.id = l.actor_id WHERE l.fid = %s",
        (fid,),
    )
    row = txn.fetchone()
    return dict(row) if row else None


def library_by_uuid_txn(txn: Any, library_uuid: uuid.UUID) -> dict[str, Any] | None:
    txn.execute(
        "SELECT l.id, l.uuid, l.fid, l.privacy_level, l.actor_id, a.fid AS actor_fid, "
        "a.private_key IS NOT NULL AS is_local FROM library l JOIN actor a ON a.id = l.actor_id WHERE l.uuid = %s",
        (library_uuid,),
    )
    row = txn.fetchone()
    return dict(row) if row else None


def follows_library_txn(txn: Any, actor_id: int, library_id: int) -> bool:
    txn.execute("SELECT 1 FROM library_follow WHERE actor_id = %s AND target_id = %s", (actor_id, library_id))
    return txn.fetchone() is not None


def upsert_follow_txn(txn: Any, fid: str, actor_id: int, target_id: int, approved: bool | None) -> int:
    """Record that an actor follows a library; a follow that exists keeps its decision unless `approved` is
    True (a public library), and takes the new `fid` (a peer that lost its follow sends a new one)."""
    txn.execute(
        """
        INSERT INTO library_follow (fid, actor_id, target_id, approved) VALUES (%s, %s, %s, %s)
        ON CONFLICT (actor_id, target_id) DO UPDATE SET fid = EXCLUDED.fid,
            approved = COALESCE(EXCLUDED.approved, library_follow.approved), modification_date = now()
        RETURNING id
        """,
        (fid, actor_id, target_id, approved),
    )
    return txn.fetchone()["id"]


def set_approved_txn(txn: Any, follow_id: int, approved: bool) -> None:
    txn.execute(
        "UPDATE library_follow SET approved = %s, modification_date = now() WHERE id = %s", (approved, follow_id)
    )


def delete_follow_txn(txn: Any, follow_id: int) -> None:
    txn.execute("DELETE FROM library_follow WHERE id = %s", (follow_id,))


def notify_txn(txn: Any, activity_fid: str, actor_id: int) -> None:
    """An inbox item (a notification) of a stored activity for local actor `actor_id`."""
    txn.execute(
        "INSERT INTO inbox_item (activity_id, actor_id) SELECT id, %s FROM activity WHERE fid = %s "
        "ON CONFLICT (activity_id, actor_id) DO NOTHING",
        (actor_id, activity_fid),
    )


def forget_actor_txn(txn: Any, actor_id: int) -> list[str]:
    """Drop what a deleted remote actor had here: its follows, its libraries and their uploads; the media
    files (relative names) to remove once committed."""
    txn.execute("DELETE FROM library_follow WHERE actor_id = %s", (actor_id,))
    txn.execute("SELECT id FROM library WHERE actor_id = %s", (actor_id,))
    files: list[str] = []
    for row in txn.fetchall():
        files.extend(uploads_store.delete_library_txn(txn, row["id"]))
    return files


def local_actor_txn(txn: Any, actor_id: int | None) -> dict[str, Any] | None:
    """A local actor's id and fid."""
    txn.execute("SELECT id, fid FROM actor WHERE id = %s AND private_key IS NOT NULL", (actor_id,))
    row = txn.fetchone()
    return dict(row) if row else None
