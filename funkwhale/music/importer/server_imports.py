"""Server-folder imports asked for over HTTP (`/api/v1/libraries/fs-import/`), as Funkwhale 1.4's fs_import task:
a folder under FUNKWHALE_MUSIC_DIRECTORIES imported in place and recursively into a library of the caller, by a
durable task run by a worker (never in the web process).

One import at a time (a lock, funkwhale/tasks/locks.py). STATE holds the last or current import's
{status, reference, logs}: pending, started, then finished, errored or canceled; cancelling marks it canceled and
the running import stops before its next file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.music.importer.fsimport import ImportError_, allowed_in_place, import_folder
from funkwhale.tasks import locks
from funkwhale.tasks.queue import enqueue_durable
from funkwhale.tasks.registry import task
from funkwhale.threads import run_io

LOCK = "fw:fs-import:lock"
STATE = "fw:fs-import:state"
QUEUED_SECONDS = 600
RUNNING = ("pending", "started")
MAX_LOGS = 100


def resolve(music_directories: tuple[str, ...], path: str) -> Path:
    """The folder `path` names (relative to the first music folder, or absolute), resolved; Invalid unless it
    is an existing folder inside FUNKWHALE_MUSIC_DIRECTORIES (blocking: run it in a thread)."""
    if not music_directories:
        raise Invalid.field("path", "No FUNKWHALE_MUSIC_DIRECTORIES is configured on this server.")
    if "\x00" in path:
        raise Invalid.field("path", "No such folder.")
    folder = (Path(music_directories[0]) / path).resolve()
    if not allowed_in_place(folder, music_directories):
        raise Invalid.field("path", "Not inside a folder of FUNKWHALE_MUSIC_DIRECTORIES.")
    if not folder.is_dir():
        raise Invalid.field("path", "No such folder.")
    return folder


def browse(music_directories: tuple[str, ...], path: str) -> list[dict[str, Any]]:
    """Funkwhale's browse_dir: the folders then the files of `path`, each {name, dir} (blocking)."""
    folder = resolve(music_directories, path)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as e:
        raise Invalid.field("path", f"Cannot list this folder: {e.strerror or e}") from None
    dirs = [{"name": e.name, "dir": True} for e in entries if e.is_dir()]
    return dirs + [{"name": e.name, "dir": False} for e in entries if not e.is_dir()]


async def state(ctx: Context) -> dict[str, Any] | None:
    """The last or current import's {status, reference, logs}, or None."""
    raw = await ctx.redis.cmd.get(STATE)
    return json.loads(raw) if raw else None


async def _save(ctx: Context, status: str, reference: str, logs: list[str]) -> None:
    await ctx.redis.cmd.set(STATE, json.dumps({"status": status, "reference": reference, "logs": logs[:MAX_LOGS]}))


async def request(ctx: Context, library_uuid: str, folder: Path, reference: str) -> None:
    """Queue the import of `folder` (checked by `resolve`); Invalid when one is queued or running."""
    token = await locks.take(ctx, LOCK, QUEUED_SECONDS)
    if token is None:
        raise Invalid("An import is already running", code="invalid")
    await _save(ctx, "pending", reference, [])
    await enqueue_durable(ctx, "music.fs_import", token, library_uuid, str(folder), reference)


async def cancel(ctx: Context) -> None:
    """Mark a pending or running import canceled (it stops before its next file)."""
    current = await state(ctx)
    if current is not None and current["status"] in RUNNING:
        await _save(ctx, "canceled", current["reference"], current["logs"])


@task("music.fs_import", max_retries=2, timeout=6 * 3600)
async def fs_import(ctx: Context, token: str, library_uuid: str, folder: str, reference: str) -> None:
    """Run the import `token` names, unless it was canceled (or another holds the lock)."""

    async def canceled() -> bool:
        current = await state(ctx)
        return current is not None and current["status"] == "canceled"

    async def run() -> None:
        if await canceled():
            return
        await _save(ctx, "started", reference, [])
        root = Path(folder)
        try:
            if not await run_io(allowed_in_place, root, ctx.settings.music_directories):
                raise ImportError_(f"{folder} is no longer inside FUNKWHALE_MUSIC_DIRECTORIES")
            summary = await import_folder(
                ctx, library_uuid, root, in_place=True, recursive=True, reference=reference, stop=canceled
            )
        except ImportError_ as e:
            await _save(ctx, "errored", reference, [str(e)])
            return
        status = "canceled" if await canceled() else "finished"
        await _save(ctx, status, reference, [summary.line(), *summary.errors])

    await locks.run_holding(ctx, LOCK, token, run)
