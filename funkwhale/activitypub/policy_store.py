"""SQL of the moderation policies as moderators manage them (`/api/v1/manage/moderation/instance-policies/`)."""

from __future__ import annotations

from typing import Any

from funkwhale.db.params import PositionalParams

FLAGS = ("block_all", "silence_activity", "silence_notifications", "reject_media", "is_active")

_SELECT = """
SELECT p.id, p.uuid, p.creation_date, p.summary, p.is_active, p.block_all, p.silence_activity,
       p.silence_notifications, p.reject_media, p.target_domain,
       ta.preferred_username AS target_username, ta.domain AS target_actor_domain,
       creator.preferred_username AS creator_username, creator.domain AS creator_domain
FROM instance_policy p
LEFT JOIN actor ta ON ta.id = p.target_actor_id
LEFT JOIN actor creator ON creator.id = p.actor_id
"""


def policies_page_txn(
    txn: Any, filters: dict[str, Any], limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(count, a page of policies) newest first; `filters`: flag -> bool, `q` (a domain or username part),
    `target_domain`, `target_account_domain`, `target_account_username`."""
    params = PositionalParams()
    where = ["true"]
    for flag in FLAGS:
        if filters.get(flag) is not None:
            where.append(f"p.{flag} = {params.bind(filters[flag])}")
    if filters.get("target_domain"):
        where.append(f"p.target_domain = {params.bind(filters['target_domain'])}")
    if filters.get("target_account_domain"):
        where.append(f"ta.domain = {params.bind(filters['target_account_domain'])}")
    if filters.get("target_account_username"):
        where.append(f"ta.preferred_username = {params.bind(filters['target_account_username'])}")
    if filters.get("q"):
        like = f"%{filters['q']}%"
        columns = ("p.target_domain", "ta.preferred_username", "p.summary")
        where.append("(" + " OR ".join(f"{column} ILIKE {params.bind(like)}" for column in columns) + ")")
    condition = " AND ".join(where)
    txn.execute(
        "SELECT count(*) AS n FROM instance_policy p LEFT JOIN actor ta ON ta.id = p.target_actor_id"
        f" WHERE {condition}",
        params.params,
    )
    count = txn.fetchone()["n"]
    txn.execute(
        f"{_SELECT} WHERE {condition} ORDER BY p.creation_date DESC, p.id DESC LIMIT {params.bind(limit)}"
        f" OFFSET {params.bind(offset)}",
        params.params,
    )
    return count, txn.fetchall()


def policy_txn(txn: Any, policy_id: int) -> dict[str, Any] | None:
    txn.execute(f"{_SELECT} WHERE p.id = %s", (policy_id,))
    return txn.fetchone()


def actor_id_by_handle_txn(txn: Any, username: str, domain: str) -> int | None:
    txn.execute("SELECT id FROM actor WHERE preferred_username = %s AND domain = %s", (username, domain))
    row = txn.fetchone()
    return row["id"] if row else None


def create_policy_txn(
    txn: Any, domain: str | None, actor_id: int | None, values: dict[str, Any], creator_id: int | None
) -> int | None:
    """A new policy on a domain (made known if needed) or an actor; None when that target has one already."""
    if domain is not None:
        txn.execute("INSERT INTO domain (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (domain,))
    columns = ["target_domain", "target_actor_id", "actor_id", *values]
    txn.execute(
        f"INSERT INTO instance_policy ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        " ON CONFLICT DO NOTHING RETURNING id",
        [domain, actor_id, creator_id, *values.values()],
    )
    row = txn.fetchone()
    return row["id"] if row else None


def update_policy_txn(txn: Any, policy_id: int, values: dict[str, Any]) -> bool:
    if values:
        sets = ", ".join(f"{name} = %s" for name in values)
        txn.execute(f"UPDATE instance_policy SET {sets} WHERE id = %s", [*values.values(), policy_id])
    else:
        txn.execute("SELECT 1 FROM instance_policy WHERE id = %s", (policy_id,))
    return txn.rowcount == 1


def delete_policy_txn(txn: Any, policy_id: int) -> bool:
    txn.execute("DELETE FROM instance_policy WHERE id = %s", (policy_id,))
    return txn.rowcount == 1
