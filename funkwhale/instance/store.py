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


def nodeinfo_txn(txn: Any) -> dict[str, Any]:
    """Stored settings, usage counts (one query) and allow-listed domains, in one transaction.

    Library figures (tracks, artists, albums, hours, favorites, listenings, downloads) join this query
    as their tables land in the schema; until then nodeinfo reports them as 0.
    """
    stored = stored_values_txn(txn)
    txn.execute(
        """
        SELECT count(*) AS users_total,
               count(*) FILTER (WHERE coalesce(last_activity, last_login) >= now() - interval '180 days')
                   AS users_active_halfyear,
               count(*) FILTER (WHERE coalesce(last_activity, last_login) >= now() - interval '30 days')
                   AS users_active_month
        FROM users
        WHERE is_active
        """
    )
    counts = dict(txn.fetchone())
    txn.execute("SELECT name FROM domain WHERE allowed ORDER BY name")
    allowed = [row["name"] for row in txn.fetchall()]
    return {"settings": stored, "counts": counts, "allowed_domains": allowed}
