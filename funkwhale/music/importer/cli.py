"""`funkwhale import PATH --library UUID [--in-place] [--recursive]`: import a server folder, with progress."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from funkwhale.cli import EXTENSIONS, command, database
from funkwhale.config import Settings


def _progress(stream: Any) -> Any:
    def show(summary: Any) -> None:
        if stream.isatty() or summary.done == summary.total:
            stream.write(
                f"\rimporting {summary.done}/{summary.total}: imported {summary.imported}, skipped "
                f"{summary.skipped}, unchanged {summary.unchanged}, errored {summary.errored}"
                + ("\n" if summary.done == summary.total else "")
            )
            stream.flush()

    return show


@command("import")
def import_files(args: argparse.Namespace, settings: Settings) -> int:
    """Import the audio files of a server folder into a library."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    from funkwhale.context import Context
    from funkwhale.db.pool import Database
    from funkwhale.music.importer import readers
    from funkwhale.music.importer.fsimport import ImportError_, find_audio_files, import_folder
    from funkwhale.redis_client import Redis

    outcome: dict[str, Any] = {}
    root = Path(args.path).expanduser()
    try:  # the folder is walked first, so that its tag readers' fork server starts while the database is reached
        files: list[Path] | None = find_audio_files(root, args.recursive) if root.exists() else None
    except OSError:
        files = None  # import_folder says why
    readers.prepare(len(files or ()))
    with database(settings) as (settings, _):
        assert settings.database_url is not None and settings.redis_url is not None
        db, redis = Database(settings.database_url, size=4), Redis(settings.redis_url, pool_size=2)
        ctx = Context(settings=settings, db=db, redis=redis, clock=reactor)

        async def run() -> None:
            db.startService()
            redis.startService()
            try:
                outcome["summary"] = await import_folder(
                    ctx,
                    args.library,
                    root,
                    in_place=args.in_place,
                    recursive=args.recursive,
                    reference=args.reference,
                    progress=_progress(sys.stderr),
                    files=files,
                )
            except ImportError_ as e:
                outcome["error"] = str(e)
            finally:
                await redis.stopService()
                db.stopService()

        def done(result: Any) -> None:
            if hasattr(result, "getTraceback"):
                outcome["error"] = f"import failed: {result.getErrorMessage()}"
            reactor.stop()

        reactor.callWhenRunning(lambda: Deferred.fromCoroutine(run()).addBoth(done))
        reactor.run()
    if "error" in outcome:
        print(f"funkwhale: {outcome['error']}", file=sys.stderr)
        return 1
    summary = outcome["summary"]
    for line in summary.errors:
        print(f"funkwhale: {line}", file=sys.stderr)
    print(summary.line())
    return 0


def _add_parser(sub: Any) -> None:
    parser = sub.add_parser("import", help=import_files.__doc__)
    parser.add_argument("path", help="a folder or an audio file")
    parser.add_argument("--library", required=True, help="uuid of the library to import into")
    parser.add_argument("--in-place", action="store_true", help="reference the files where they are (no copy)")
    parser.add_argument("--recursive", action="store_true", help="descend into sub-folders")
    parser.add_argument("--reference", default="cli", help="import_reference of the uploads (default: cli)")


EXTENSIONS.append(_add_parser)
