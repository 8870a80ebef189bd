"""SQL of what the client API shows of the federation: known domains, actors by their full username, and the
libraries an actor owns."""

from __future__ import annotations

from typing import Any

from funkwhale.music.uploads.store import _LIBRARY_SELECT


def domains_txn(txn: Any, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """(count, a page of the known domains), by name."""
    txn.execute("SELECT count(*) AS n FROM domain")
    count = txn.fetchone()["n"]
    txn.execute("SELECT name FROM domain ORDER BY name LIMIT %s OFFSET %s", (limit, offset))
    return count, txn.fetchall()


def actor_by_full_username_txn(txn: Any, username: str, domain: str) -> dict[str, Any] | None:
    """An actor by `preferred_username@domain` (the username in any case), with actor_json's columns."""
    txn.execute(
        """
        SELECT id, fid AS actor_fid, url AS actor_url, preferred_username AS actor_preferred_username,
               name AS actor_name, domain AS actor_domain, summary AS actor_summary, type AS actor_type,
               creation_date AS actor_creation_date, last_fetch_date AS actor_last_fetch_date,
               manually_approves_followers AS actor_manually_approves_followers
        FROM actor WHERE lower(preferred_username) = lower(%s) AND domain = %s AND type <> 'Tombstone'
        ORDER BY id LIMIT 1
        """,
        (username, domain),
    )
    row = txn.fetchone()
    return dict(row) if row else None


def libraries_of_txn(
    txn: Any, actor_id: int, viewer_id: int | None, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(count, a page of the libraries of an actor that are public or followed (approved) by the viewer)."""
    where = """l.actor_id = %s AND (l.privacy_level = 'everyone' OR l.actor_id = %s OR EXISTS (
        SELECT 1 FROM library_follow lf WHERE lf.target_id = l.id AND lf.actor_id = %s AND lf.approved))"""
    params = [actor_id, viewer_id, viewer_id]
    txn.execute(f"SELECT count(*) AS n FROM library l WHERE {where}", params)
    count = txn.fetchone()["n"]
    txn.execute(
        _LIBRARY_SELECT + f" WHERE {where} ORDER BY l.creation_date DESC, l.id DESC LIMIT %s OFFSET %s",
        [*params, limit, offset],
    )
    return count, txn.fetchall()
