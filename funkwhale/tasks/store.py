"""SQL for the `task` table: the durable record of work that the Redis queue carries."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg2.extras import Json, execute_values

# A task row's status: pending (queued or waiting for a retry), running, done, dead (retries exhausted).


def insert_task_txn(txn: Any, task_id: uuid.UUID, name: str, queue: str, args: list, delay: float) -> None:
    txn.execute(
        "INSERT INTO task (id, name, queue, args, run_at) VALUES (%s, %s, %s, %s, now() + %s * interval '1 second')",
        (task_id, name, queue, Json(args), delay),
    )


def insert_tasks_txn(txn: Any, rows: list[tuple[uuid.UUID, str, str, list]]) -> None:
    """Many tasks due now, in one statement: (id, name, queue, args) each."""
    execute_values(
        txn,
        "INSERT INTO task (id, name, queue, args) VALUES %s",
        [(task_id, name, queue, Json(args)) for task_id, name, queue, args in rows],
        page_size=1000,
    )


def start_task_txn(txn: Any, task_id: str) -> bool:
    """Mark the task running and count the attempt; False when it is done, dead or gone (skip the message)."""
    txn.execute(
        "UPDATE task SET status = 'running', attempts = attempts + 1, update_date = now() "
        "WHERE id = %s AND status IN ('pending', 'running') RETURNING id",
        (uuid.UUID(task_id),),
    )
    return txn.fetchone() is not None


def finish_task_txn(txn: Any, task_id: str) -> None:
    txn.execute(
        "UPDATE task SET status = 'done', last_error = '', update_date = now() WHERE id = %s",
        (uuid.UUID(task_id),),
    )


def fail_task_txn(txn: Any, task_id: str, error: str, retry_in: float | None) -> None:
    """Record a failed attempt: pending again in `retry_in` seconds, or dead when `retry_in` is None."""
    txn.execute(
        "UPDATE task SET status = %s, last_error = %s, update_date = now(), "
        "run_at = now() + %s * interval '1 second' WHERE id = %s",
        ("dead" if retry_in is None else "pending", error, retry_in or 0, uuid.UUID(task_id)),
    )


def claim_stale_tasks_txn(txn: Any, older_than: float, limit: int) -> list[dict]:
    """Unfinished tasks untouched for `older_than` seconds (and due that long ago), touched so the next
    sweep leaves them alone for as long again: the ones Redis may have lost."""
    txn.execute(
        "UPDATE task SET update_date = now() WHERE id IN ("
        "  SELECT id FROM task WHERE status IN ('pending', 'running')"
        "  AND update_date <= now() - %s * interval '1 second' AND run_at <= now() - %s * interval '1 second'"
        "  ORDER BY update_date LIMIT %s FOR UPDATE SKIP LOCKED"
        ") RETURNING id, name, queue, args, attempts",
        (older_than, older_than, limit),
    )
    return txn.fetchall()


def delete_done_tasks_txn(txn: Any, older_than: float) -> int:
    """Forget tasks finished more than `older_than` seconds ago; dead ones stay for the operator."""
    txn.execute(
        "DELETE FROM task WHERE status = 'done' AND update_date < now() - %s * interval '1 second'",
        (older_than,),
    )
    return txn.rowcount


def unfinished_tasks_txn(txn: Any, after: uuid.UUID | None, limit: int) -> list[dict]:
    """Pending and running tasks by id, the `limit` after `after`, with the seconds each has yet to wait."""
    txn.execute(
        "SELECT id, name, queue, args, attempts, greatest(0, extract(epoch FROM run_at - now()))::float AS delay "
        "FROM task WHERE status IN ('pending', 'running') AND (%s::uuid IS NULL OR id > %s::uuid) "
        "ORDER BY id LIMIT %s",
        (after, after, limit),
    )
    return txn.fetchall()
