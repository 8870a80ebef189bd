"""Importing a server folder: each audio file becomes an upload (copied into MEDIA_ROOT, or referenced in place)
and is imported by the same pipeline as HTTP uploads, BATCH files at a time (registered in one transaction,
imported in one more; two batches in flight, so that one reads its tags while the other is in the database). A
re-run imports only new or changed files (size and modification time differ from the previous run's; for an
in-place file, also the folder cover beside it).
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
from funkwhale.music.importer import readers, store
from funkwhale.music.importer.pipeline import import_rows
from funkwhale.music.metadata import find_folder_cover
from funkwhale.tasks import queue
from funkwhale.threads import run_cpu

log = Logger()

BATCH = 100  # files registered and imported together
IN_FLIGHT = 2  # batches at once
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
    """Audio files under `root` (or `root` itself), resolved, sorted for a stable order. Each folder is resolved
    once (links to folders are not followed), a file only when it is a link itself."""
    if root.is_file():
        return [root] if _is_audio(root.name) else []
    found: list[Path] = []
    folders = [os.path.realpath(root)]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if recursive and entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    elif _is_audio(entry.name) and entry.is_file():
                        found.append(Path(os.path.realpath(entry.path) if entry.is_symlink() else entry.path))
        except OSError:
            if not recursive:  # as os.walk, a recursive walk skips the folders it cannot read
                raise
    return sorted(found, key=lambda path: path.parts)


def _is_audio(name: str) -> bool:
    return os.path.splitext(name)[1].lower().lstrip(".") in formats.IMPORTED_EXTENSIONS


def _mimetype(path: Path) -> str:
    audio = formats.by_extension(path.suffix)
    return audio.mimetype if audio else "application/octet-stream"


def _fingerprint(path: Path, in_place: bool, covers: dict[Path, Path | None]) -> dict[str, Any]:
    """What a re-run compares: the file's size and modification time and, in place, the folder cover's
    (`covers`: the folder covers found so far, by folder)."""
    stat = path.stat()
    fs: dict[str, Any] = {"path": str(path), "size": stat.st_size, "mtime": int(stat.st_mtime)}
    if in_place:
        if path.parent not in covers:
            covers[path.parent] = find_folder_cover(path)
        cover = covers[path.parent]
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


@dataclass
class _Batch:
    """A batch of files sorted out against the previous run: the uploads to create and to reset, the pending ones
    of an interrupted run, how many are unchanged, and the files that could not be read ({path: reason})."""

    new: list[dict[str, Any]] = field(default_factory=list)
    changed: dict[int, dict[str, Any]] = field(default_factory=dict)
    pending: list[int] = field(default_factory=list)
    unchanged: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def _sort_out(
    ctx: Context, paths: list[Path], previous: dict[str, dict[str, Any]], scope: dict[str, Any] | None, reference: str
) -> _Batch:
    """Compare the files with the previous run's (blocking: in a thread); files to import that are not in place
    are copied into MEDIA_ROOT. `scope` (in-place imports: the folder imported and whether recursively) is what a
    rescan covers; None copies the files."""
    in_place, found = scope is not None, _Batch()
    covers: dict[Path, Path | None] = {}
    for path in paths:
        try:
            fs = {**_fingerprint(path, in_place, covers), **(scope or {})}
            before = previous.get(str(path))
            if before is not None and _unchanged(before["fs"], fs):
                if before["import_status"] == "pending":  # an interrupted run
                    found.pending.append(before["id"])
                else:
                    found.unchanged += 1
            elif before is not None:
                if not in_place:
                    _copy_into_media(ctx, path, before["audio_file"])
                found.changed[before["id"]] = fs
            else:
                found.new.append(
                    {
                        "source": sources.file_uri(path) if in_place else f"upload://{path.name}",
                        "audio_file": None if in_place else _copy_into_media(ctx, path, None),
                        "original_name": path.name,
                        "size": fs["size"],
                        "mimetype": _mimetype(path),
                        "fs": fs,
                        "import_reference": reference,
                    }
                )
        except OSError as e:
            found.errors[str(path)] = e.strerror or str(e)
    return found


def register_txn(txn: Any, library_id: int, found: _Batch, base_url: str) -> list[dict[str, Any]]:
    """The uploads of a sorted-out batch to import, registered: their rows (store.uploads_for_import_txn)."""
    new = store.register_folder_uploads_txn(txn, library_id, found.new, found.changed, base_url)
    ids = [*new, *found.changed, *found.pending]
    return store.uploads_for_import_txn(txn, ids) if ids else []


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
    files: list[Path] | None = None,
) -> Summary:
    """Import the audio files of `root` into the library; `stop`, asked before each batch, ends the run early;
    `files`: find_audio_files of `root`, when the caller has walked it already."""
    library = await ctx.db.run(store.library_by_uuid_txn, library_uuid, desc="import.library")
    if library is None:
        raise ImportError_(f"no library {library_uuid}")
    if not await run_cpu(root.exists):
        raise ImportError_(f"{root} does not exist")
    if in_place and not await run_cpu(allowed_in_place, root, ctx.settings.music_directories):
        raise ImportError_(
            f"{root} is not inside a folder of FUNKWHALE_MUSIC_DIRECTORIES; in-place imports may only reference those"
        )
    if files is None:
        files = await run_cpu(find_audio_files, root, recursive)
    scope = {"root": str(await run_cpu(root.resolve)), "recursive": recursive} if in_place else None
    previous = await ctx.db.run(store.folder_uploads_txn, library["id"], desc="import.previous")
    summary = Summary(total=len(files))
    progress(summary)
    limit = DeferredSemaphore(IN_FLIGHT)

    def count(status: str, n: int = 1) -> None:
        counter = OUTCOMES.get(status, "unchanged")
        setattr(summary, counter, getattr(summary, counter) + n)

    async def one(paths: list[Path]) -> None:
        if stop is not None and await stop():
            return
        found = await run_cpu(_sort_out, ctx, paths, previous, scope, reference)
        readers.start(len(found.new) + len(found.changed) + len(found.pending))  # while this batch registers
        rows = await ctx.db.run(register_txn, library["id"], found, ctx.settings.base_url, desc="import.register")
        ids = [row["id"] for row in rows]
        statuses = await import_rows(ctx, rows) if rows else {}
        for upload_id in ids:
            count(statuses.get(upload_id, "unchanged"))  # not imported here: no longer pending
        count("unchanged", found.unchanged)
        count("errored", len(found.errors))
        summary.errors += [f"{path}: {reason}" for path, reason in found.errors.items()]
        progress(summary)

    batches = [files[i : i + BATCH] for i in range(0, len(files), BATCH)]
    await gatherResults([limit.run(one, b) for b in batches], consumeErrors=True)
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
