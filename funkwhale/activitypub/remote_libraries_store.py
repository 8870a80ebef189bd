"""SQL of the client API's federation screens: libraries as a user sees them (with their follow and latest scan),
and the `remote_fetch` rows of `/api/v1/federation/fetches/`."""

from __future__ import annotations

import json
from typing import Any

_LIBRARY_SELECT = """
SELECT l.id, l.uuid, l.fid, l.name, l.description, l.privacy_level, l.creation_date, l.uploads_count,
       a.fid AS actor_fid, a.url AS actor_url, a.preferred_username AS actor_preferred_username,
       a.name AS actor_name, a.domain AS actor_domain, a.summary AS actor_summary, a.type AS actor_type,
       a.creation_date AS actor_creation_date, a.last_fetch_date AS actor_last_fetch_date,
       a.manually_approves_followers AS actor_manually_approves_followers,
       (SELECT json_build_object('creation_date', f.creation_date, 'uuid', f.uuid, 'fid', f.fid,
                                 'approved', f.approved, 'modification_date', f.modification_date)
        FROM library_follow f WHERE f.target_id = l.id AND f.actor_id = %(me)s) AS follow,
       (SELECT json_build_object('total_files', s.total_files, 'processed_files', s.processed_files,
                                 'errored_files', s.errored_files, 'status', s.status,
                                 'creation_date', s.creation_date, 'modification_date', s.modification_date)
        FROM library_scan s WHERE s.library_id = l.id ORDER BY s.creation_date DESC, s.id DESC LIMIT 1) AS latest_scan
FROM library l JOIN actor a ON a.id = l.actor_id
"""


_BY = {"id": "l.id", "uuid": "l.uuid", "actor": "l.actor_id"}


def libraries_txn(txn: Any, by: str, value: Any, viewer_actor_id: int | None) -> list[dict[str, Any]]:
    """The remote libraries whose `by` ("id", "uuid" or "actor": its owner's id) is `value`, newest first (at most
    100), with the viewer's follow of each. Local libraries are the libraries API's (with their privacy)."""
    txn.execute(
        _LIBRARY_SELECT
        + f" WHERE {_BY[by]} = %(value)s AND a.private_key IS NULL ORDER BY l.creation_date DESC, l.id DESC LIMIT 100",
        {"value": value, "me": viewer_actor_id},
    )
    return txn.fetchall()


def library_by_uuid_txn(txn: Any, library_uuid: str, viewer_actor_id: int | None) -> dict[str, Any] | None:
    rows = libraries_txn(txn, "uuid", library_uuid, viewer_actor_id)
    return rows[0] if rows else None


def insert_fetch_txn(txn: Any, url: str, actor_id: int) -> int:
    txn.execute("INSERT INTO remote_fetch (url, actor_id) VALUES (%s, %s) RETURNING id", (url, actor_id))
    return txn.fetchone()["id"]


def finish_fetch_txn(
    txn: Any, fetch_id: int, status: str, detail: dict[str, Any], object_type: str | None, object_id: int | None
) -> None:
    txn.execute(
        "UPDATE remote_fetch SET status = %s, detail = %s, object_type = %s, object_id = %s, fetch_date = now()"
        " WHERE id = %s",
        (status, json.dumps(detail), object_type, object_id, fetch_id),
    )


_FETCH_SELECT = """
SELECT r.id, r.url, r.status, r.detail, r.creation_date, r.fetch_date, r.object_type, r.object_id,
       a.fid AS actor_fid, a.url AS actor_url, a.preferred_username AS actor_preferred_username,
       a.name AS actor_name, a.domain AS actor_domain, a.summary AS actor_summary, a.type AS actor_type,
       a.creation_date AS actor_creation_date, a.last_fetch_date AS actor_last_fetch_date,
       a.manually_approves_followers AS actor_manually_approves_followers
FROM remote_fetch r JOIN actor a ON a.id = r.actor_id
"""


def fetch_txn(txn: Any, fetch_id: int, actor_id: int) -> dict[str, Any] | None:
    """A fetch the actor asked for, with the actor's columns (`actor_*`)."""
    txn.execute(_FETCH_SELECT + " WHERE r.id = %s AND r.actor_id = %s", (fetch_id, actor_id))
    return txn.fetchone()


def fetches_of_url_txn(txn: Any, url: str, actor_id: int, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of the fetches of `url` the actor asked for, newest first."""
    txn.execute("SELECT count(*) AS n FROM remote_fetch WHERE url = %s AND actor_id = %s", (url, actor_id))
    total = txn.fetchone()["n"]
    txn.execute(
        _FETCH_SELECT
        + " WHERE r.url = %s AND r.actor_id = %s ORDER BY r.creation_date DESC, r.id DESC LIMIT %s OFFSET %s",
        (url, actor_id, limit, offset),
    )
    return total, txn.fetchall()
