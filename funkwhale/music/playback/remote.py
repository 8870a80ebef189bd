"""Remote uploads (in a library of another server): their audio is fetched on the first play, streamed to the
listeners as it arrives, and kept under MEDIA_ROOT/federation_cache as the upload's `audio_file`; from then on it
plays like a local file, until the cache is pruned (federation__music_cache_duration minutes without a play).

One `Download` per upload runs at a time (`ctx.remote_downloads` in the process, a Redis lock across processes,
whose listeners wait for the copy the holder records): a signed GET (as the service
actor) of the upload's `source` through the SSRF-guarded client, written as it arrives into a temporary file
that every listener of that upload reads as it grows (each at its own pace); complete and of the announced size,
it is renamed into place and recorded. A failure discards it and caches nothing. The download goes on when its
listeners leave: it becomes the cached copy for the next play.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.internet.task import deferLater
from twisted.logger import Logger

from funkwhale import storage
from funkwhale.activitypub import actors, remote_actors
from funkwhale.activitypub.fetch import Fetcher, FetchError, FetchResponse
from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.music import formats
from funkwhale.music.playback import Source, files
from funkwhale.music.playback import store as playback_store
from funkwhale.music.playback.transcode import CACHE_BACKLOG, CacheFile, keep, remove_cached
from funkwhale.storage import MediaMissing
from funkwhale.tasks.registry import task
from funkwhale.threads import run_io

log = Logger()

# What a remote server may send beyond the size its Audio announced (the body is abandoned past it).
SIZE_SLACK = 64 * 1024
# A download must end within MIN_DEADLINE seconds, or its size at MIN_RATE bytes/s when that is longer.
MIN_DEADLINE = 120.0
MIN_RATE = 64 * 1024
# How often a listener waiting for another process's download looks for the cached copy (seconds).
WAIT_STEP = 0.25
AUDIO_ACCEPT = "audio/*, application/octet-stream;q=0.5"


class RemoteUnavailable(Exception):
    """The remote server did not send the audio (an error status, a network failure, a wrong size)."""


class MediaRejected(Exception):
    """An instance policy rejects the media of the upload's server."""


def cache_name(upload: dict[str, Any]) -> str:
    """The cached copy of a remote upload, relative to MEDIA_ROOT."""
    audio = formats.by_mimetype(upload.get("mimetype"))
    extension = audio.extension if audio else formats.extension_of(upload["source"].split("?", 1)[0]) or "audio"
    return storage.chunked_name(storage.REMOTE_CACHE, upload["uuid"].hex, f".{extension}")


def limits(settings: Any, upload: dict[str, Any]) -> tuple[int, float]:
    """(the most bytes a download of the upload may take, its deadline in seconds)."""
    announced = upload.get("size") or None
    cap = announced + SIZE_SLACK if announced else settings.upload_max_size
    return cap, max(MIN_DEADLINE, cap / MIN_RATE)


def lock_key(upload: dict[str, Any]) -> str:
    """The Redis key a process holds while it downloads the upload's audio."""
    return f"fw:remote-audio:{upload['uuid'].hex}"


def remote_source(settings: Any, upload: dict[str, Any]) -> Source | None:
    """The Source of a remote upload not cached yet (its audio comes from `remote_url`, into `path`); None for
    an upload that is not remote or has no http(s) source."""
    url = upload.get("source") or ""
    if not upload.get("remote") or not url.startswith(("https://", "http://")):
        return None
    name = cache_name(upload)
    extension = name.rpartition(".")[2]
    path = None if settings.media_bucket else storage.absolute(settings, name)
    return Source(path, name, extension, remote_url=url)


class Download:
    """One fetch of a remote upload's audio into a temporary file that listeners read while it grows."""

    def __init__(self, upload: dict[str, Any]) -> None:
        self.upload = upload
        self.name = cache_name(upload)
        self.length: int | None = None  # the body's length, known once the remote server answered
        self.answered = False
        self.received = 0
        self.flushed = 0  # bytes written to the file
        self.done = False
        self.error: str | None = None
        self._file: CacheFile | None = None
        self._read_fd: int | None = None
        self._producer: IPushProducer | None = None
        self._paused = False
        self._waiting: list[Deferred[None]] = []

    # progress, for listeners
    def changed(self) -> Deferred[None]:
        """Fires at the next progress (an answer, bytes written, the end or a failure)."""
        waiting: Deferred[None] = Deferred(lambda d: self._waiting.remove(d) if d in self._waiting else None)
        self._waiting.append(waiting)
        return waiting

    def _notify(self) -> None:
        waiting, self._waiting = self._waiting, []
        for deferred in waiting:
            deferred.callback(None)

    async def answer(self) -> int | None:
        """Wait until the remote server answers with the audio: its length (None when unknown).
        RemoteUnavailable when it did not."""
        while not (self.answered or self.done):
            await self.changed()
        if self.error is not None:
            raise RemoteUnavailable(self.error)
        return self.length

    async def cached(self) -> str:
        """Wait for the whole file: its cache name. RemoteUnavailable when the download failed."""
        while not self.done:
            await self.changed()
        if self.error is not None:
            raise RemoteUnavailable(self.error)
        return self.name

    async def reader(self, settings: Any) -> BinaryIO:
        """A file object of its own on the file being written (still valid after its rename or removal), or on
        the cached copy once the download is over."""
        if self._read_fd is not None:
            return os.fdopen(os.dup(self._read_fd), "rb")
        if self.error is not None:
            raise RemoteUnavailable(self.error)
        try:
            return await run_io(open, storage.absolute(settings, self.name), "rb")
        except OSError:
            raise RemoteUnavailable(f"the cached copy {self.name} is missing") from None

    # BodySink, for Fetcher.stream
    def started(self, producer: IPushProducer) -> None:
        self._producer = producer

    def write(self, data: bytes) -> None:
        assert self._file is not None
        self.received += len(data)
        self._file.write(data)

    def _on_response(self, response: FetchResponse) -> None:
        announced = self.upload.get("size") or None
        header = response.header("content-length")
        length = int(header) if header and header.isdigit() else None
        if announced and length is not None and length != announced:
            raise FetchError(f"{response.url} sends {length} bytes, its Audio announced {announced}")
        self.length = announced or length
        self.answered = True
        self._notify()

    def _on_backlog(self) -> None:
        """Bytes reached the file (or failed to): wake the listeners, and read the remote body only while the
        disk keeps up."""
        assert self._file is not None
        self.flushed = self.received - self._file.backlog
        pause = self._file.backlog >= CACHE_BACKLOG
        if self._producer is not None and pause != self._paused:
            self._paused = pause
            if pause:
                self._producer.pauseProducing()
            else:
                self._producer.resumeProducing()
        self._notify()

    async def run(self, ctx: Context) -> None:
        """Fetch, write, check and record the cached copy; on failure log it and keep nothing."""
        url = self.upload["source"]
        final = storage.absolute(ctx.settings, self.name)
        try:
            self._file = await CacheFile.create(final, self._on_backlog)
            self._read_fd = await run_io(os.open, str(self._file.path), os.O_RDONLY)
            announced = self.upload.get("size") or None
            cap, deadline = limits(ctx.settings, self.upload)
            response = await Fetcher.from_settings(ctx.settings).stream(
                url,
                self,
                headers={"Accept": AUDIO_ACCEPT},
                signer=await actors.signer(ctx),
                max_body=cap,
                total_timeout=deadline,
                on_response=self._on_response,
            )
            if response.status != 200:
                raise FetchError(f"{url} answered {response.status}")
            if announced and self.received != announced:
                raise FetchError(f"{url} sent {self.received} bytes, its Audio announced {announced}")
            if await self._file.finish(final) is None or not await keep(ctx, self.name, final):
                raise FetchError(f"the cached copy of {url} could not be written")
            await ctx.db.run(
                playback_store.cache_remote_file_txn, self.upload["id"], self.name, desc="playback.cache_remote"
            )
            log.info("cached remote audio {url} ({size} bytes)", url=url, size=self.received)
        except Exception as e:
            self.error = str(e) or type(e).__name__
            log.warn("remote audio {url} is unavailable: {error}", url=url, error=self.error)
            if self._file is not None:
                await self._file.discard()
        finally:
            ctx.remote_downloads.pop(self.upload["id"], None)
            self.done = True
            if self._read_fd is not None:
                os.close(self._read_fd)
                self._read_fd = None
            self._notify()
            await _release(ctx, self.upload)


async def _release(ctx: Context, upload: dict[str, Any]) -> None:
    """Drop the upload's download lock (it expires anyway: Redis may be gone when the daemon is stopping)."""
    try:
        await ctx.redis.cmd.delete(lock_key(upload))
    except Exception as e:
        log.warn("cannot release the download lock of upload {upload}: {error!r}", upload=str(upload["uuid"]), error=e)


async def download_of(ctx: Context, upload: dict[str, Any]) -> Download | None:
    """The download of a remote upload's audio running in this process, else a new one; None when another
    process (which holds the upload's Redis lock while it downloads) has cached it meanwhile: one download per
    upload across the processes sharing Redis. MediaRejected when an instance policy rejects its media."""
    if upload["id"] not in ctx.remote_downloads:
        domain = remote_actors.domain_of(upload["source"])
        if await ctx.db.run(playback_store.media_rejected_txn, upload["id"], domain, desc="playback.media_rejected"):
            log.info("not fetching remote audio {url}: its media are rejected", url=upload["source"])
            raise MediaRejected()
    while True:
        running = ctx.remote_downloads.get(upload["id"])
        if running is not None:
            return running
        _, deadline = limits(ctx.settings, upload)
        taken = await ctx.redis.cmd.set(lock_key(upload), "1", expire=int(deadline) + 60, only_if_not_exists=True)
        if taken:
            running = ctx.remote_downloads[upload["id"]] = Download(upload)
            Deferred.fromCoroutine(running.run(ctx)).addErrback(lambda f: log.failure("remote download", f))
            return running
        await deferLater(ctx.clock, WAIT_STEP, lambda: None)  # another process downloads it, or this one will
        if await ctx.db.run(playback_store.audio_file_txn, upload["id"], desc="playback.audio_file"):
            return None


async def fetch(ctx: Context, upload: dict[str, Any]) -> None:
    """Make sure the remote upload's audio is cached (fetching it, or waiting for the download running here or
    elsewhere). RemoteUnavailable, MediaRejected."""
    download = await download_of(ctx, upload)
    if download is not None:
        await download.cached()


class GrowingFileSender(files.FileSender):
    """Sends a file that a Download is still writing: it waits for bytes, and fails with the download."""

    def __init__(self, request: Any, fh: BinaryIO, download: Download, length: int | None) -> None:
        super().__init__(request, fh, 0, length if length is not None else 1 << 62)
        self.download = download

    async def readable(self) -> int:
        while not self._stopped:
            if self.download.flushed > self.offset:
                return self.download.flushed - self.offset
            if self.download.error is not None:
                raise RemoteUnavailable(self.download.error)
            if self.download.done:
                return 0
            await self.download.changed()
        return 0


async def play(ctx: Context, request: Any, upload: dict[str, Any], source: Source, disposition: str | None) -> bytes:
    """Answer a play of a remote upload not cached yet with its audio as it arrives (200, the whole file: a
    Range is not honoured until the copy is cached). RemoteUnavailable or MediaRejected before any header."""
    download = await download_of(ctx, upload)
    if download is None:  # cached by another process meanwhile
        return await _serve_cached(ctx, request, source, disposition)
    length = await download.answer()
    if download.done and download.error is None and source.path is None:  # in the bucket already
        return await _serve_cached(ctx, request, source, disposition)
    fh = await download.reader(ctx.settings)
    try:
        request.setHeader(b"Content-Type", source.mimetype.encode("ascii"))
        request.setHeader(b"Accept-Ranges", b"none")
        request.setHeader(b"X-Accel-Buffering", b"no")
        if length is not None:
            request.setHeader(b"Content-Length", str(length).encode("ascii"))
        if disposition:
            request.setHeader(b"Content-Disposition", disposition.encode("ascii"))
        if request.method == b"HEAD":
            return b""
        sender = GrowingFileSender(request, fh, download, length)
        try:
            await sender.send()
        except RemoteUnavailable:
            files.abort(request)  # the headers are gone: a cut connection says the body is incomplete
            return b""
        if length is not None and sender.offset < length and files.connected(request):
            files.abort(request)
        return b""
    finally:
        files.close_later(fh)


async def _serve_cached(ctx: Context, request: Any, source: Source, disposition: str | None) -> bytes:
    """The cached copy, under MEDIA_ROOT or in the bucket. RemoteUnavailable when it is missing."""
    try:
        return await files.serve_source(ctx.settings, request, source, disposition)
    except (OSError, MediaMissing):
        raise RemoteUnavailable(f"the cached copy {source.relative} is missing") from None


@task("federation.clean_music_cache", max_retries=3)
async def clean_music_cache(ctx: Context) -> int:
    """Delete the cached copies of remote audio (and remote uploads' transcodes) not played for
    federation__music_cache_duration minutes; the number of files removed."""
    minutes = float(await instance_settings.get(ctx, "federation__music_cache_duration"))
    names = await ctx.db.run(
        playback_store.drop_stale_remote_files_txn, minutes * 60, storage.REMOTE_CACHE, desc="playback.clean_cache"
    )
    removed = await remove_cached(ctx, names, storage.REMOTE_CACHE)
    if removed:
        log.info("music cache: {n} cached remote file(s) removed", n=removed)
    return removed
