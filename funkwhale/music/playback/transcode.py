"""Live transcoding: an ffmpeg child process streamed to the client as it produces, teed into the cache.

The request pauses and resumes ffmpeg's stdout (backpressure); a client that goes away kills ffmpeg. The
output is written, in order, from the blocking-work pool into a temporary file beside its cache name; when
ffmpeg exits 0 the file is renamed into place and recorded in upload_version, and the next request for the
same (upload, format, bitrate) serves it with Range support. Concurrent first requests each write their own
temporary file; the last rename wins (same name, same content) and the row is upserted.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from funkwhale import storage
from funkwhale.config import Settings
from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.music.ffmpeg import ffmpeg_binary
from funkwhale.music.playback import Source, Transcode, files
from funkwhale.music.playback import store as playback_store
from funkwhale.tasks.registry import task
from funkwhale.threads import run_cpu, run_io

log = Logger()

# Stop reading ffmpeg while this many bytes wait to be written into the cache file.
CACHE_BACKLOG = 4 * 1024 * 1024
STDERR_KEPT = 4096
DEFAULT_CACHE_BYTES = 10 * 1024**3
PARTIAL_MAX_AGE = 24 * 3600


class TranscodeFailed(Exception):
    """ffmpeg exited with an error before the response started."""


def cache_name(upload_uuid: uuid.UUID, transcode: Transcode) -> str:
    """The cache file of a transcode, relative to MEDIA_ROOT (one name per upload, format and bitrate)."""
    return storage.chunked_name(
        storage.TRANSCODED, upload_uuid.hex, f"-{transcode.bitrate}.{transcode.output.name}"
    )


def ffmpeg_input(settings: Settings, source: Source) -> str:
    """What ffmpeg reads: the file, or for a bucket object a presigned URL (the bundled ffmpeg speaks http and
    https, and reads by ranges where it seeks)."""
    if source.path is not None:
        return str(source.path)
    assert source.relative is not None
    return storage.media(settings).url(source.relative)


def ffmpeg_args(settings: Settings, source: str, transcode: Transcode) -> list[str]:
    """ffmpeg writing the first audio stream of `source` (a path or URL), converted, to its stdout (quiet unless
    it fails)."""
    seek = ["-ss", str(transcode.offset)] if transcode.offset else []
    args = [ffmpeg_binary(settings), "-nostdin", "-hide_banner", "-loglevel", "error", *seek, "-i", source,
            "-vn", "-map", "0:a:0", "-c:a", transcode.output.codec]  # fmt: skip
    if transcode.bitrate:
        args += ["-b:a", f"{transcode.bitrate}k"]
    return args + ["-f", transcode.output.muxer, "pipe:1"]


def _open_for_writing(path: Path) -> BinaryIO:
    storage.ensure_parent(path)
    return open(path, "wb")  # noqa: SIM115 (closed by CacheFile.finish/discard)


class CacheFile:
    """A temporary file written in order from the blocking-work pool (each chunk flushed, so a reader of the
    file sees it), then renamed into place or removed."""

    def __init__(self, path: Path, fh: BinaryIO, on_backlog: Callable[[], None]) -> None:
        self.path = path
        self.backlog = 0
        self.failed = False
        self._on_backlog = on_backlog
        self._fh = fh
        self._chain: Deferred[None] = succeed(None)

    @classmethod
    async def create(cls, final: Path, on_backlog: Callable[[], None]) -> CacheFile:
        path = final.with_name(f"{final.name}.{uuid.uuid4().hex[:12]}.part")
        return cls(path, await run_io(_open_for_writing, path), on_backlog)

    def write(self, data: bytes) -> None:
        if self.failed:
            return
        self.backlog += len(data)
        self._chain.addCallback(self._write_now, data)
        self._chain.addBoth(self._written, len(data))

    def _write_now(self, _: None, data: bytes) -> Deferred[None]:
        return Deferred.fromCoroutine(run_io(self._write_all, data))

    def _write_all(self, data: bytes) -> None:
        self._fh.write(data)
        self._fh.flush()

    def _written(self, result: Any, size: int) -> None:
        self.backlog -= size
        if isinstance(result, Failure) and not self.failed:
            self.failed = True
            log.failure("cannot write the transcoding cache file {path}", result, path=str(self.path))
        self._on_backlog()

    async def finish(self, final: Path) -> int | None:
        """Rename the complete file to `final`; its size, or None if writing failed (the file is removed)."""
        await self._chain
        if self.failed:
            await self.discard()
            return None
        return await run_io(self._rename, final)

    def _rename(self, final: Path) -> int:
        self._fh.close()
        os.replace(self.path, final)
        return final.stat().st_size

    async def discard(self) -> None:
        self.failed = True
        await self._chain
        await run_io(self._remove)

    def _remove(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


@implementer(IPushProducer)
class FfmpegStream(ProcessProtocol):
    """Relays ffmpeg's stdout to the request and the cache file; `ended` fires with the exit code."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.cache: CacheFile | None = None
        self.ended: Deferred[int] = Deferred(lambda _: self.kill())
        self.killed = False
        self.stderr = b""
        self._client_paused = False
        self._reading = True

    # ProcessProtocol
    def outReceived(self, data: bytes) -> None:
        self.request.write(data)
        if self.cache is not None:
            self.cache.write(data)
            self._update()

    def errReceived(self, data: bytes) -> None:
        self.stderr = (self.stderr + data)[-STDERR_KEPT:]

    def processEnded(self, reason: Failure) -> None:
        error = reason.value
        # 0 for ProcessDone, None when a signal ended it
        code = error.exitCode if isinstance(error, (ProcessDone, ProcessTerminated)) else None
        if not self.ended.called:
            self.ended.callback(-1 if code is None else code)

    # IPushProducer (registered on the request)
    def pauseProducing(self) -> None:
        self._client_paused = True
        self._update()

    def resumeProducing(self) -> None:
        self._client_paused = False
        self._update()

    def stopProducing(self) -> None:
        self.kill()

    def _update(self) -> None:
        backlog = self.cache.backlog if self.cache is not None else 0
        should_read = not self._client_paused and backlog < CACHE_BACKLOG
        if should_read != self._reading and self.transport is not None and not self.ended.called:
            self._reading = should_read
            # a Process pauses and resumes reading its pipes; IProcessTransport does not declare it
            producer = cast(IPushProducer, self.transport)
            if should_read:
                producer.resumeProducing()
            else:
                producer.pauseProducing()

    def kill(self) -> None:
        """SIGKILL ffmpeg (the client went away, or the response is over)."""
        if self.ended.called or self.transport is None or self.transport.pid is None:
            return
        self.killed = True
        try:
            self.transport.signalProcess(signal.SIGKILL)
        except OSError:
            pass


async def stream(
    ctx: Context, request: Any, upload: dict[str, Any], source: Source, transcode: Transcode
) -> None:
    """Write the transcoded audio to the request as ffmpeg produces it, and cache it when ffmpeg succeeds.
    TranscodeFailed when ffmpeg fails before any byte was sent (after that, the connection is aborted).
    A transcode made `once` is not cached."""
    name = cache_name(upload["uuid"], transcode)
    final = storage.absolute(ctx.settings, name)
    process = FfmpegStream(request)
    cache = None if transcode.once else await CacheFile.create(final, process._update)
    process.cache = cache
    if not files.connected(request):
        if cache is not None:
            await cache.discard()
        return
    request.notifyFinish().addErrback(lambda _: process.kill())
    arguments = ffmpeg_args(ctx.settings, ffmpeg_input(ctx.settings, source), transcode)
    reactor.spawnProcess(process, ffmpeg_binary(ctx.settings), arguments,
                         env={"PATH": os.environ.get("PATH", "")})  # fmt: skip
    request.registerProducer(process, True)
    try:
        code = await process.ended
    except BaseException:
        process.kill()
        if cache is not None:
            Deferred.fromCoroutine(cache.discard()).addErrback(
                lambda failure: log.failure("cannot remove a partial transcode", failure)
            )
        raise
    finally:
        files.unregister(request)
    if code != 0 or process.killed:
        if cache is not None:
            await cache.discard()
        if process.killed:
            return  # the client went away
        log.error("ffmpeg exited {code} for upload {upload}: {stderr}", code=code, upload=str(upload["uuid"]),
                  stderr=process.stderr.decode("utf-8", "replace").strip())  # fmt: skip
        if not request.startedWriting:
            raise TranscodeFailed()
        files.abort(request)
        return
    if cache is None:
        return
    size = await cache.finish(final)
    if size is not None and not await keep(ctx, name, final):
        size = None
    if size is not None:
        await ctx.db.run(
            playback_store.save_version_txn, upload["id"], transcode.output.mimetype, transcode.bitrate, name, size,
            desc="playback.save_version",
        )  # fmt: skip


async def keep(ctx: Context, name: str, path: Path) -> bool:
    """Put a finished cache file in the bucket when there is one (the local file was only this process's
    scratch); False, logged, when it cannot be written there."""
    store = storage.media(ctx.settings)
    if not store.remote:
        return True
    try:
        await run_io(store.save, name, path)
    except storage.StorageError as e:
        log.warn("cannot keep {name} in the media storage: {error}", name=name, error=str(e))
        await run_io(path.unlink, True)
        return False
    return True


async def remove_cached(ctx: Context, names: list[str], kind: str) -> int:
    """Delete cache files from the media storage (and the local partial files under `kind` older than a day)."""
    store = storage.media(ctx.settings)
    root = storage.media_root(ctx.settings)
    removed = await run_cpu(remove_cache_files, root, [] if store.remote else names, kind)
    if store.remote and names:
        removed += await run_io(store.delete, names)
    return removed


def remove_cache_files(root: Path, names: list[str], kind: str) -> int:
    """Delete cache files (and the partial files under `kind` older than a day); the number of files removed."""
    removed = 0
    for name in names:
        try:
            (root / name).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    cutoff = time.time() - PARTIAL_MAX_AGE
    for partial in (root / kind).glob("*/*/*.part"):
        try:
            if partial.stat().st_mtime < cutoff:
                partial.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


async def prune_transcode_cache(
    ctx: Context, max_age_days: float | None = None, max_bytes: int = DEFAULT_CACHE_BYTES
) -> int:
    """Delete the transcodes not played for `max_age_days` (default: the instance preference
    music__transcoding_cache_duration) and the least recently played beyond `max_bytes`; files removed."""
    if max_age_days is None:
        max_age_seconds = float(await instance_settings.get(ctx, "music__transcoding_cache_duration")) * 60
    else:
        max_age_seconds = max_age_days * 86400
    names = await ctx.db.run(
        playback_store.delete_stale_versions_txn, max_age_seconds, max_bytes, desc="playback.prune_cache"
    )
    return await remove_cached(ctx, names, storage.TRANSCODED)


@task("music.prune_transcode_cache", max_retries=2, timeout=3600)
async def prune_transcode_cache_task(ctx: Context) -> None:
    """The hourly pruning, queued by the scheduler (funkwhale/jobs.py), run by a worker."""
    await prune_transcode_cache(ctx)
