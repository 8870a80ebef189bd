"""Serve a file over HTTP with single-range support, reading chunks in the blocking-work pool.

Unlike twisted.web.static.File, no disk read happens on the reactor thread, and the sender is a push producer
registered on the request: it stops reading while the client's socket buffer is full.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from werkzeug.http import http_date, parse_if_range_header, parse_range_header, quote_etag
from zope.interface import implementer

from funkwhale.config import Settings
from funkwhale.music.playback import Source
from funkwhale.storage import serving
from funkwhale.threads import run_io

CHUNK = 128 * 1024


class Unsatisfiable(Exception):
    """The Range header asks for bytes the file does not have (answer 416)."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range, clamped to the file; None to send the whole file
    (no header, a malformed one, another unit, or several ranges). Parsed by werkzeug."""
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return None
    start, stop = parsed.ranges[0]  # stop is exclusive; a negative start is a suffix (`-500`)
    if start < 0:
        if size == 0:
            raise Unsatisfiable()
        return max(0, size + start), size - 1
    if start >= size:
        raise Unsatisfiable()
    return start, min(stop or size, size) - 1


def _open(path: Path) -> tuple[BinaryIO, os.stat_result]:
    fh = open(path, "rb")  # noqa: SIM115 (closed by serve_file)
    try:
        return fh, os.fstat(fh.fileno())
    except OSError:
        fh.close()
        raise


def _read_at(fh: BinaryIO, offset: int, size: int) -> bytes:
    return os.pread(fh.fileno(), size, offset)


log = Logger()


def close_later(fh: BinaryIO) -> None:
    """Close `fh` in the I/O pool without waiting for it: an answer is not held a thread hop past its last byte,
    since a client that has every byte may hang up at once, and an answer it outran is neither finished nor
    logged."""
    closing = ensureDeferred(run_io(fh.close))
    closing.addErrback(lambda failure: log.failure("could not close a served file", failure))


def connected(request: Any) -> bool:
    """Whether the client is still there (a lost connection leaves the request without a channel)."""
    return request.channel is not None and not request._disconnected


def unregister(request: Any) -> None:
    """Unregister the request's producer, unless the connection (and so the producer) is already gone."""
    if request.channel is not None:
        request.unregisterProducer()


def abort(request: Any) -> None:
    """Cut the connection: the client must not take a truncated body for a complete one."""
    if request.channel is not None and request.channel.transport is not None:
        request.channel.transport.abortConnection()


@implementer(IPushProducer)
class FileSender:
    """Writes `length` bytes of `fh` from `start` to the request, one chunk read in a thread at a time."""

    def __init__(self, request: Any, fh: BinaryIO, start: int, length: int) -> None:
        self.request = request
        self.fh = fh
        self.offset = start
        self.remaining = length
        self._resumed: Deferred[None] | None = None
        self._stopped = False

    def pauseProducing(self) -> None:
        if self._resumed is None:
            self._resumed = Deferred()

    def resumeProducing(self) -> None:
        waiting, self._resumed = self._resumed, None
        if waiting is not None and not waiting.called:  # a cancelled wait has already fired
            waiting.callback(None)

    def stopProducing(self) -> None:
        self._stopped = True
        self.resumeProducing()

    async def readable(self) -> int:
        """How many bytes from `offset` may be read now (0: the end); a file that grows waits for some here."""
        return self.remaining

    async def send(self) -> None:
        """Send the bytes; returns early if the client goes away. A file that shrank aborts the connection."""
        if not connected(self.request):
            return
        self.request.registerProducer(self, True)
        try:
            while self.remaining > 0 and not self._stopped:
                await (self._resumed or succeed(None))
                if self._stopped:
                    break
                readable = await self.readable()
                if readable <= 0:
                    break
                chunk = await run_io(_read_at, self.fh, self.offset, min(CHUNK, self.remaining, readable))
                if not chunk:
                    abort(self.request)
                    break
                self.offset += len(chunk)
                self.remaining -= len(chunk)
                self.request.write(chunk)
        finally:
            unregister(self.request)


def _header(request: Any, name: bytes) -> str | None:
    value = request.getHeader(name)
    return value.decode("latin-1") if value is not None else None


def _range_applies(request: Any, etag: str, modified: datetime) -> bool:
    """No If-Range, or one naming this version of the file (its ETag or its Last-Modified date)."""
    header = _header(request, b"if-range")
    if header is None:
        return True
    if_range = parse_if_range_header(header)
    return if_range.etag == etag if if_range.date is None else if_range.date == modified


async def serve_source(settings: Settings, request: Any, source: Source, disposition: str | None = None) -> bytes:
    """Answer with a source's bytes: its file (`serve_file`), or its object in the bucket (`serving.serve_object`);
    OSError or MediaMissing when it is not there."""
    if source.path is None:
        assert source.relative is not None
        return await serving.serve_object(settings, request, source.relative, source.mimetype, disposition)
    return await serve_file(request, source.path, source.mimetype, disposition)


async def serve_file(request: Any, path: Path, content_type: str, disposition: str | None = None) -> bytes:
    """Answer a GET or HEAD with the file at `path` (FileNotFoundError/OSError if it cannot be opened):
    200 or 206 for a single satisfiable range, 416 for an unsatisfiable one; ETag and Last-Modified
    (If-Range is honoured). Returns the (empty) rest of the body for Klein."""
    fh, stat = await run_io(_open, path)
    try:
        size = stat.st_size
        etag = f"{size:x}-{stat.st_mtime_ns:x}"
        modified = datetime.fromtimestamp(int(stat.st_mtime), UTC)
        request.setHeader(b"Content-Type", content_type.encode("ascii"))
        request.setHeader(b"Accept-Ranges", b"bytes")
        request.setHeader(b"ETag", quote_etag(etag).encode("ascii"))
        request.setHeader(b"Last-Modified", http_date(modified).encode("ascii"))
        if disposition:
            request.setHeader(b"Content-Disposition", disposition.encode("ascii"))
        wanted = _header(request, b"range") if _range_applies(request, etag, modified) else None
        try:
            byte_range = parse_range(wanted, size)
        except Unsatisfiable:
            request.setResponseCode(416)
            request.setHeader(b"Content-Range", f"bytes */{size}".encode("ascii"))
            request.setHeader(b"Content-Length", b"0")
            return b""
        start, length = 0, size
        if byte_range is not None:
            start, last = byte_range
            length = last - start + 1
            request.setResponseCode(206)
            request.setHeader(b"Content-Range", f"bytes {start}-{last}/{size}".encode("ascii"))
        request.setHeader(b"Content-Length", str(length).encode("ascii"))
        if request.method != b"HEAD" and length:
            await FileSender(request, fh, start, length).send()
        return b""
    finally:
        close_later(fh)
