"""SQL for attachments (cover art and other pictures)."""

from __future__ import annotations

from typing import Any

_COLUMNS = "id, uuid, url, actor_id, file, mimetype, size, checksum, creation_date"


def insert_or_get_txn(
    txn: Any, checksum: str, file: str, mimetype: str, size: int, actor_id: int | None
) -> dict[str, Any]:
    """The attachment with this checksum, created if there is none yet (concurrent callers get the same row)."""
    txn.execute(
        f"INSERT INTO attachment (checksum, file, mimetype, size, actor_id) VALUES (%s, %s, %s, %s, %s)"
        f" ON CONFLICT (checksum) WHERE checksum IS NOT NULL DO NOTHING RETURNING {_COLUMNS}",
        (checksum, file, mimetype, size, actor_id),
    )
    row = txn.fetchone()
    if row is None:
        txn.execute(f"SELECT {_COLUMNS} FROM attachment WHERE checksum = %s", (checksum,))
        row = txn.fetchone()
    return dict(row)


def get_by_uuid_txn(txn: Any, attachment_uuid: str) -> dict[str, Any] | None:
    txn.execute(f"SELECT {_COLUMNS} FROM attachment WHERE uuid = %s", (attachment_uuid,))
    row = txn.fetchone()
    return dict(row) if row else None


def delete_owned_txn(txn: Any, attachment_uuid: str, actor_id: int) -> tuple[bool, list[str]]:
    """Delete an attachment the actor sent (what used it loses its picture): (whether it was theirs, its file to
    remove once committed, unless another attachment shares the file)."""
    txn.execute("DELETE FROM attachment WHERE uuid = %s AND actor_id = %s RETURNING file", (attachment_uuid, actor_id))
    row = txn.fetchone()
    if row is None:
        return False, []
    txn.execute("SELECT 1 FROM attachment WHERE file = %s LIMIT 1", (row["file"],))
    return True, [] if txn.fetchone() is not None or not row["file"] else [row["file"]]


def delete_unused_txn(txn: Any, attachment_ids: list[int]) -> list[str]:
    """Delete those of the attachments that no upload, artist, album, track or user (avatar) uses any more; their
    files (names relative to MEDIA_ROOT) to remove once committed. An import about to use one holds it with
    FOR KEY SHARE (music/importer/store.py:kept_attachment_txn)."""
    txn.execute(
        """
        DELETE FROM attachment a WHERE a.id = ANY(%s)
          AND NOT EXISTS (SELECT 1 FROM upload WHERE attachment_cover_id = a.id)
          AND NOT EXISTS (SELECT 1 FROM album WHERE attachment_cover_id = a.id)
          AND NOT EXISTS (SELECT 1 FROM artist WHERE attachment_cover_id = a.id)
          AND NOT EXISTS (SELECT 1 FROM track WHERE attachment_cover_id = a.id)
          AND NOT EXISTS (SELECT 1 FROM users WHERE avatar_id = a.id)
        RETURNING a.file
        """,
        (attachment_ids,),
    )
    return [row["file"] for row in txn.fetchall() if row["file"]]


def attachment_files_txn(txn: Any) -> list[str]:
    """The media file names of every attachment stored here (what the picture cache keeps)."""
    txn.execute("SELECT file FROM attachment WHERE file IS NOT NULL AND file <> ''")
    return [row["file"] for row in txn.fetchall()]
