"""SQL of library scans: the `library_scan` row of a walk through a remote library's pages, and its progress."""

from __future__ import annotations

from typing import Any

from funkwhale.tasks import queue
from funkwhale.tasks.queue import Message

SCAN_TASK = "federation.scan_library"
SCAN_COLUMNS = """s.id, s.uuid, s.library_id, s.actor_id, s.status, s.total_files, s.processed_files, s.errored_files,
    s.next_page, s.last_error, s.creation_date, s.modification_date"""


def create_scan_txn(txn: Any, library_id: int, actor_id: int | None) -> tuple[str, Message]:
    """A pending scan of the library and its durable task: (the scan's uuid, the message to push once committed)."""
    txn.execute(
        "INSERT INTO library_scan (library_id, actor_id) VALUES (%s, %s) RETURNING id, uuid", (library_id, actor_id)
    )
    row = txn.fetchone()
    return str(row["uuid"]), queue.enqueue_durable_txn(txn, SCAN_TASK, row["id"])


def scan_txn(txn: Any, scan_id: int) -> dict[str, Any] | None:
    txn.execute(f"SELECT {SCAN_COLUMNS} FROM library_scan s WHERE s.id = %s", (scan_id,))
    return txn.fetchone()


def scan_by_uuid_txn(txn: Any, scan_uuid: str) -> dict[str, Any] | None:
    txn.execute(f"SELECT {SCAN_COLUMNS} FROM library_scan s WHERE s.uuid = %s", (scan_uuid,))
    return txn.fetchone()


def progress_txn(txn: Any, scan_id: int, values: dict[str, Any]) -> None:
    """Set some of status, total_files, next_page, last_error, and add `processed` / `errored` to the counts."""
    processed, errored = values.pop("processed", 0), values.pop("errored", 0)
    assignments = "".join(f", {name} = %s" for name in values)
    txn.execute(
        "UPDATE library_scan SET processed_files = processed_files + %s, errored_files = errored_files + %s,"
        f" modification_date = now(){assignments} WHERE id = %s",
        [processed, errored, *values.values(), scan_id],
    )


def set_uploads_count_txn(txn: Any, library_id: int, count: int) -> None:
    txn.execute("UPDATE library SET uploads_count = %s WHERE id = %s", (count, library_id))
