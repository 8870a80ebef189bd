"""Importing a server folder: each audio file becomes an upload (copied into MEDIA_ROOT, or referenced in place)
and is imported by the same pipeline as HTTP uploads. A re-run imports only new or changed files (size and
modification time differ from the previous run's; for an in-place file, also the folder cover beside it).
In-place uploads remember the folder they were imported from (and --recursive), so that the scheduler's hourly
`rescan` re-imports what changed there and has the uploads whose file vanished removed (music/importer/refresh.py)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet.defer import DeferredSemaphore, gatherResults
from twisted.logger import Logger

from funkwhale import storage
from funkwhale.context import Context
from funkwhale.music import formats, sources
from funkwhale.music.importer import store
from funkwhale.music.importer.pipeline import process_upload
from funkwhale.music.metadata import find_folder_cover
from funkwhale.tasks import queue
from funkwhale.threads import run_cpu

log = Logger()

CONCURRENCY = 4  # imports at once: the tag reads run in the blocking-work pool
REMOVE_VANISHED = "music.remove_vanished_uploads"  # music/importer/refresh.py
REMOVE_BATCH = 100  # uploads per removal task
OUTCOMES = {"finished": "imported", "skipped": "skipped", "errored": "errored", "unchanged": "unchanged"}


class ImportError_(Exception):
    """A one-line reason the import cannot start (unknown library, path outside the allowed folders)."""


@dataclass
class Summary:
    total: int = 0
    imported: int = 0
    skipped: int = 0
    errored: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    vanished: list[int] = field(default_factory=list)  # in-place uploads of the folder whose file is gone

    @property
    def done(self) -> int:
        return self.imported + self.skipped + self.errored + self.unchanged

    def line(self) -> str:
        """The one-line outcome `funkwhale import` prints."""
        return (
            f"imported {self.imported}, skipped {self.skipped}, unchanged {self.unchanged}, "
            f"errored {self.errored} (of {self.total} files)"
        )


def allowed_in_place(path: Path, music_directories: tuple[str, ...]) -> bool:
    """Whether `path` lies in one of the configured music folders (symlinks resolved)."""
    resolved = path.resolve()
    for folder in music_directories:
        root = Path(folder).resolve()
        if resolved == root or root in resolved.parents:
            return True
    return False


def find_audio_files(root: Path, recursive: bool) -> list[Path]:
    """Audio files under `root` (or `root` itself), sorted for a stable order."""
    if root.is_file():
        return [root] if _is_audio(root) else []
    found = []
    walker = os.walk(root) if recursive else [(str(root), [], os.listdir(root))]
    for directory, _, names in walker:
        for name in names:
            path = Path(directory) / name
            if _is_audio(path) and path.is_file():
                found.append(path.resolve())
    return sorted(found)


def _is_audio(path: Path) -> bool:
    return path.suffix.lower().lstrip(".") in formats.IMPORTED_EXTENSIONS


def _mimetype(path: Path) -> str:
    audio = formats.by_extension(path.suffix)
    return audio.mimetype if audio else "application/octet-stream"


def _fingerprint(path: Path, in_place: bool) -> dict[str, Any]:
    """What a re-run compares: the file's size and modification time and, in place, the folder cover's."""
    stat = path.stat()
    fs: dict[str, Any] = {"path": str(path), "size": stat.st_size, "mtime": int(stat.st_mtime)}
    if in_place:
        cover = find_folder_cover(path)
        cover_stat = cover.stat() if cover is not None else None
        fs["cover"] = [cover.name, cover_stat.st_size, int(cover_stat.st_mtime)] if cover and cover_stat else None
    return fs


def _unchanged(previous: dict[str, Any], fs: dict[str, Any]) -> bool:
    return all(previous.get(key) == fs.get(key) for key in ("size", "mtime", "cover"))


def _vanished(previous: dict[str, dict[str, Any]], root: str, found: set[str]) -> list[int]:
    """In-place uploads imported from `root` whose file is neither among `found` nor on the disk any more."""
    return sorted(
        row["id"]
        for path, row in previous.items()
        if not row["audio_file"] and row["fs"].get("root") == root and path not in found and not os.path.lexists(path)
    )


def _copy_into_media(ctx: Context, path: Path, relative: str | None) -> str:
    """Copy (streamed, never whole in memory) into the media storage; reuse `relative` for a changed file."""
    relative = relative or storage.new_name(storage.TRACKS, path.suffix.lower())
    storage.media(ctx.settings).save(relative, path, move=False)
    return relative


async def _register(
    ctx: Context,
    library: dict[str, Any],
    path: Path,
    previous: dict[str, Any] | None,
    scope: dict[str, Any] | None,
    reference: str,
) -> int | None:
    """The upload to import for `path`, or None when it is unchanged since the last run. `scope` (in-place
    imports: the folder imported and whether recursively) is what a rescan covers; None copies the file."""
    in_place = scope is not None
    fs = {**await run_cpu(_fingerprint, path, in_place), **(scope or {})}
    if previous is not None:
        if _unchanged(previous["fs"], fs):
            return previous["id"] if previous["import_status"] == "pending" else None  # an interrupted run
        if not in_place:
            await run_cpu(_copy_into_media, ctx, path, previous["audio_file"])
        await ctx.db.run(store.reset_folder_upload_txn, previous["id"], fs["size"], fs, desc="import.reset")
        return previous["id"]
    audio_file = None if in_place else await run_cpu(_copy_into_media, ctx, path, None)
    fields = {
        "source": sources.file_uri(path) if in_place else f"upload://{path.name}",
        "audio_file": audio_file,
        "original_name": path.name,
        "size": fs["size"],
        "mimetype": _mimetype(path),
        "fs": fs,
        "import_reference": reference,
    }
    return await ctx.db.run(
        store.create_folder_upload_txn, library["id"], fields, ctx.settings.base_url, desc="import.register"
    )


async def import_folder(
    ctx: Context,
    library_uuid: str,
    root: Path,
    *,
    in_place: bool,
    recursive: bool,
    reference: str = "cli",
    progress: Callable[[Summary], None] = lambda summary: None,
    stop: Callable[[], Awaitable[bool]] | None = None,
) -> Summary:
    """Import the audio files of `root` into the library; `stop`, asked before each file, ends the run early."""
    library = await ctx.db.run(store.library_by_uuid_txn, library_uuid, desc="import.library")
    if library is None:
        raise ImportError_(f"no library {library_uuid}")
    if not await run_cpu(root.exists):
        raise ImportError_(f"{root} does not exist")
    if in_place and not await run_cpu(allowed_in_place, root, ctx.settings.music_directories):
        raise ImportError_(
            f"{root} is not inside a folder of FUNKWHALE_MUSIC_DIRECTORIES; in-place imports may only reference those"
        )
    files = await run_cpu(find_audio_files, root, recursive)
    scope = {"root": str(await run_cpu(root.resolve)), "recursive": recursive} if in_place else None
    previous = await ctx.db.run(store.folder_uploads_txn, library["id"], desc="import.previous")
    summary = Summary(total=len(files))
    progress(summary)
    limit = DeferredSemaphore(CONCURRENCY)

    async def one(path: Path) -> None:
        if stop is not None and await stop():
            return
        try:
            upload_id = await _register(ctx, library, path, previous.get(str(path)), scope, reference)
            # process_upload answers None when the upload was no longer pending (nothing done)
            status = "unchanged" if upload_id is None else (await process_upload(ctx, upload_id) or "unchanged")
        except OSError as e:
            status = "errored"
            summary.errors.append(f"{path}: {e.strerror or e}")
        counter = OUTCOMES.get(status, "unchanged")
        setattr(summary, counter, getattr(summary, counter) + 1)
        progress(summary)

    await gatherResults([limit.run(one, p) for p in files], consumeErrors=True)
    if scope is not None and files:
        summary.vanished = await run_cpu(_vanished, previous, scope["root"], {str(p) for p in files})
    elif scope is not None and any(row["fs"].get("root") == scope["root"] for row in previous.values()):
        log.warn("{root} holds no audio file any more: its uploads are kept (an unmounted disk?)", root=str(root))
    return summary


async def rescan(ctx: Context, progress: Callable[[Summary], None] = lambda summary: None) -> int:
    """The body of the rescan task (music.importer.rescans): import new and changed files of the folders imported
    in place before, into the same libraries (and as recursively), while they stay inside MUSIC_DIRECTORIES,
    and queue the removal of the uploads whose file vanished (a durable task per REMOVE_BATCH uploads). A folder
    that is gone or holds no audio file at all (an unmounted disk) is skipped, not emptied. `progress` gets each
    folder's summary as it changes. Returns how many were imported."""
    imported = 0
    for scope in await ctx.db.run(store.in_place_scopes_txn, desc="import.rescan"):
        try:
            summary = await import_folder(
                ctx,
                scope["library"],
                Path(scope["root"]),
                in_place=True,
                recursive=scope["recursive"],
                reference="rescan",
                progress=progress,
            )
        except ImportError_ as e:
            log.warn("rescan of {root} skipped: {reason}", root=scope["root"], reason=str(e))
            continue
        imported += summary.imported
        for start in range(0, len(summary.vanished), REMOVE_BATCH):
            await queue.enqueue_durable(ctx, REMOVE_VANISHED, summary.vanished[start : start + REMOVE_BATCH])
    return imported
