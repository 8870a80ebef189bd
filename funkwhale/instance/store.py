"""SQL for instance settings and the figures nodeinfo publishes."""

from __future__ import annotations

from typing import Any

from psycopg2.extras import Json, execute_values


def stored_values_txn(txn: Any, identifiers: list[str] | None = None) -> dict[str, Any]:
    """identifier -> value of the settings an administrator has set (all, or only `identifiers`)."""
    if identifiers is None:
        txn.execute("SELECT name, value FROM instance_setting")
    else:
        txn.execute("SELECT name, value FROM instance_setting WHERE name = ANY(%s)", (identifiers,))
    return {row["name"]: row["value"] for row in txn.fetchall()}


def save_values_txn(txn: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Upsert the given settings; returns every stored value afterwards."""
    if values:
        execute_values(
            txn,
            "INSERT INTO instance_setting (name, value) VALUES %s "
            "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, modification_date = now()",
            [(name, Json(value)) for name, value in values.items()],
        )
    return stored_values_txn(txn)


def library_figures_txn(txn: Any, base_url: str) -> dict[str, Any]:
    """NodeInfo's library figures (local content: ids under `base_url`, as Funkwhale's `.local()`: tracks,
    artists, albums, the seconds of finished uploads; downloads of any track) and allow-listed domains."""
    txn.execute(
        """
        SELECT (SELECT count(*) FROM track WHERE left(fid, length(%(prefix)s)) = %(prefix)s) AS tracks,
               (SELECT count(*) FROM artist WHERE left(fid, length(%(prefix)s)) = %(prefix)s) AS artists,
               (SELECT count(*) FROM album WHERE left(fid, length(%(prefix)s)) = %(prefix)s) AS albums,
               (SELECT coalesce(sum(duration), 0) FROM upload
                WHERE import_status = 'finished' AND left(fid, length(%(prefix)s)) = %(prefix)s) AS music_seconds,
               (SELECT coalesce(sum(downloads_count), 0) FROM track) AS downloads
        """,
        {"prefix": base_url + "/"},
    )
    counts = {name: int(value) for name, value in txn.fetchone().items()}
    txn.execute("SELECT name FROM domain WHERE allowed ORDER BY name")
    allowed = [row["name"] for row in txn.fetchall()]
    return {"counts": counts, "allowed_domains": allowed}


def usage_figures_txn(txn: Any) -> dict[str, int]:
    """NodeInfo's usage figures: active users (in all, in 180 and 30 days), favorites and listenings."""
    txn.execute(
        """
        SELECT count(*) AS users_total,
               count(*) FILTER (WHERE coalesce(last_activity, last_login) >= now() - interval '180 days')
                   AS users_active_halfyear,
               count(*) FILTER (WHERE coalesce(last_activity, last_login) >= now() - interval '30 days')
                   AS users_active_month,
               (SELECT count(*) FROM track_favorite) AS favorites,
               (SELECT count(*) FROM listening) AS listenings
        FROM users
        WHERE is_active
        """
    )
    return {name: int(value) for name, value in txn.fetchone().items()}
