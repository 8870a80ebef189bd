"""SQL of the metrics: PostgreSQL's view of the instance's connections."""

from __future__ import annotations

from typing import Any


def connections_txn(txn: Any) -> dict[str, int]:
    """The daemon processes' connections to this database (application_name `funkwhale`), by state (`active`,
    `idle`, `idle in transaction`...): every process of the instance, whatever its role."""
    txn.execute(
        "SELECT coalesce(state, 'unknown') AS state, count(*) AS n FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'funkwhale' GROUP BY 1"
    )
    return {row["state"]: row["n"] for row in txn.fetchall()}
