"""The HTTP site: a request class that guards and caps bodies and never parses multipart on the reactor thread,
and a Site that knows its in-flight requests so shutdown can let them finish."""

from __future__ import annotations

import json
import tempfile
from typing import Any, Protocol, cast
from urllib.parse import unquote_to_bytes

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import RESPONSES
from twisted.web.server import Request, Site

from funkwhale.config import Settings
from funkwhale.music.uploads.multipart import FormError, boundary_of, read_fields
from funkwhale.threads import run_cpu
from funkwhale.web.errors import ApiError
from funkwhale.web.upload_gate import UPLOADS, UploadGate

DEFAULT_MAX_BODY = 10 * 1024 * 1024
SMALL_BODY = 100_000  # Twisted keeps bodies below this in memory
SERVER = b"funkwhale"  # the Server header of every response (not Twisted's name and version)
LINGER = 5.0  # seconds the rest of a refused body is read and dropped, so that the answer is not lost to a reset

log = Logger()


def route_of(uri: bytes) -> tuple[bytes, ...]:
    """The path segments Twisted routes a request by (unquoted as Request.process does), without trailing empty
    ones: `/api/v1/%75ploads/?x` is ("api", "v1", "uploads")."""
    segments = [unquote_to_bytes(s) for s in uri.split(b"?", 1)[0][1:].split(b"/")]
    while segments and not segments[-1]:
        segments.pop()
    return tuple(segments)


class BodyWatch:
    """Drops a request whose body stalls: nothing for `timeout` seconds, or less than `min_rate` bytes/s on
    average once it has taken `timeout` seconds."""

    def __init__(self, request: FunkwhaleRequest, clock: Any, timeout: float, min_rate: int) -> None:
        self.request = request
        self.clock = clock
        self.timeout = timeout
        self.min_rate = min_rate
        self.started = self.last = clock.seconds()
        self.size = 0
        self.call = clock.callLater(timeout, self._check)

    def received(self, size: int) -> None:
        self.size += size
        self.last = self.clock.seconds()

    def stop(self) -> None:
        if self.call.active():
            self.call.cancel()

    def _check(self) -> None:
        if self.request.channel is None:
            return
        now = self.clock.seconds()
        if now - self.last >= self.timeout or self.size < self.min_rate * (now - self.started):
            self.request.refuse(408, "The request body came too slowly.", "request_timeout")
            return
        self.call = self.clock.callLater(self.last + self.timeout - now, self._check)


class _Connection(Protocol):
    """What a request does with its channel's transport: a TCP (or TLS) transport, which Twisted's HTTPChannel
    declares only as an optional ITransport (no producer or abort methods)."""

    def write(self, data: bytes) -> None: ...
    def pauseProducing(self) -> None: ...
    def resumeProducing(self) -> None: ...
    def loseConnection(self) -> None: ...
    def abortConnection(self) -> None: ...


class FunkwhaleRequest(Request):
    """Refuses bodies above the site's limit, holds an upload's body until the upload gate has admitted it (the
    transport paused: 401/413/429 come before the body is read), drops stalled bodies, and leaves multipart
    bodies unparsed (routes stream-parse them)."""

    body_limit = DEFAULT_MAX_BODY
    _held: list[bytes] | None = None  # body bytes that came while the gate decides (None: not held)
    _held_receive: tuple[bytes, bytes, bytes] | None = None  # the body ended while held: requestReceived's args
    _refused = False
    _expect_continue = False
    _watch: BodyWatch | None = None
    multipart_content_type: bytes | None = None  # the Content-Type of a multipart body, hidden from Twisted
    multipart_fields: list[tuple[str, str]] | FormError | None = None  # such a body's fields, for `read_body`

    @property
    def _site(self) -> FunkwhaleSite:
        """The site whose channel made this request (Site.buildProtocol sets `channel.site`)."""
        site: FunkwhaleSite = self.channel.site  # type: ignore[attr-defined]  # HTTPChannel does not declare it
        return site

    @property
    def public_url(self) -> str:
        """This request's URL under the configured public URL (FUNKWHALE_PROTOCOL/HOSTNAME), not its Host
        header, path as received (trailing slash kept), without the query string."""
        return self._site.settings.base_url + self.path.decode("latin-1")

    @property
    def _connection(self) -> _Connection:
        """The transport of this request's connection (which must still be open)."""
        channel = self.channel
        transport = None if channel is None else channel.transport
        if transport is None:
            raise RuntimeError("the connection of this request is closed")
        return cast(_Connection, transport)

    def setHeader(self, name: bytes | str, value: bytes | str) -> None:
        if isinstance(name, bytes) and name.lower() == b"server":
            value = SERVER
        super().setHeader(name, value)

    def gotLength(self, length: int | None) -> None:
        channel = self.channel
        site = self._site
        # the request line, known now: for the gate, and for the access-log event of a refusal
        self.method, self.uri = channel._command, channel._path
        expect = self.requestHeaders.getRawHeaders(b"expect")
        if expect and expect[0].lower() == b"100-continue":  # answered once the body is welcome (_open_body)
            self.requestHeaders.removeHeader(b"expect")
            self._expect_continue = channel._version == b"HTTP/1.1"
        self.body_limit = site.max_body_for(self)
        if length is not None and length > self.body_limit:
            self.refuse(413, "The request body is too large.", "body_too_large")
            return
        route = route_of(self.uri)
        gate = site.upload_gate
        if length != 0 and gate is not None and gate.guards(self.method, route):
            self._held = []
            self._connection.pauseProducing()
            admitted = Deferred.fromCoroutine(gate.admit(self, route, length))
            admitted.addCallbacks(self._admitted, self._not_admitted, callbackArgs=(length,))
            return
        self._open_body(length, complete=False)

    def _open_body(self, length: int | None, complete: bool) -> None:
        site = self._site
        spool = site.spool_dir_for(self, length)
        if spool is None:
            super().gotLength(length)
        else:  # large upload bodies go beside the media (not to /tmp, maybe a small tmpfs), unnamed
            self.content = tempfile.TemporaryFile(dir=spool)
        if length != 0 and not complete:
            if self._expect_continue:
                self._connection.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._watch = BodyWatch(self, site.reactor, site.body_timeout, site.body_min_rate)

    def _admitted(self, limit: int | None, length: int | None) -> None:
        if self.channel is None or self._refused:  # the client left meanwhile
            return
        if limit is not None:
            self.body_limit = min(self.body_limit, limit)
        held, self._held = self._held or [], None
        self._open_body(length, complete=self._held_receive is not None)
        for chunk in held:
            self.handleContentChunk(chunk)
        if self._refused:
            return
        self._connection.resumeProducing()
        if self._held_receive is not None:
            self.requestReceived(*self._held_receive)

    def _not_admitted(self, failure: Failure) -> None:
        error = failure.value
        if isinstance(error, ApiError):
            self.refuse(error.status, error.detail, error.code)
        else:
            log.failure("cannot admit the body of {uri}", failure, uri=self.uri)
            self.refuse(500, "internal error", "error")

    def handleContentChunk(self, data: bytes) -> None:
        if self._refused:
            return
        if self._held is not None:
            self._held.append(data)
            self._connection.pauseProducing()
            return
        if self._watch is not None:
            self._watch.received(len(data))
        if self.content is None:  # the channel calls gotLength (which opens the body file) first
            raise RuntimeError("a body chunk came before the body was opened")
        if self.content.tell() + len(data) > self.body_limit:
            self.refuse(413, "The request body is too large.", "body_too_large")
            return
        super().handleContentChunk(data)

    def refuse(self, status: int, detail: str, code: str) -> None:
        """Answer `status` now, without reading (the rest of) the body, and close the connection: what is still
        coming is read and dropped for LINGER seconds at most."""
        self._refused = True
        self._held = None
        if self._watch is not None:
            self._watch.stop()
        if self.content is not None:
            self.content.close()
            self.content = None
        channel = self.channel
        if channel is None:
            return
        site, transport = self._site, self._connection
        body = json.dumps({"detail": detail, "code": code}).encode()
        transport.write(
            b"HTTP/1.1 %d %s\r\nServer: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, RESPONSES.get(status, b"Error"), SERVER, len(body), body)
        )
        self.code, self.sentLength = status, len(body)
        site.log(self)
        channel.dataReceived = lambda data: None  # type: ignore[method-assign]
        transport.resumeProducing()
        if hasattr(transport, "loseWriteConnection"):
            transport.loseWriteConnection()
        else:
            transport.loseConnection()
        linger = site.reactor.callLater(LINGER, transport.abortConnection)
        self.notifyFinish().addBoth(lambda _: linger.cancel() if linger.active() else None)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._refused:
            return
        if self._held is not None:  # the whole body came with the headers: wait for the gate
            self._held_receive = (command, path, version)
            return
        if self._watch is not None:
            self._watch.stop()
        ctype = self.requestHeaders.getRawHeaders(b"content-type", [b""])[0]
        if ctype.lower().startswith(b"multipart/form-data"):
            # Twisted would parse the whole body in memory here (_getMultiPartArgs): hide the type from it
            # and keep the original for the route that stream-parses the body.
            self.multipart_content_type = ctype
            self.requestHeaders.setRawHeaders(b"content-type", [b"application/octet-stream"])
        # Register before processing: a response written synchronously finishes inside requestReceived.
        site = self._site
        site.started(self)
        self.notifyFinish().addBoth(lambda _: site.finished(self))
        super().requestReceived(command, path, version)

    def process(self) -> None:
        from funkwhale.web.api.auth import ensure_csrf_cookie

        ensure_csrf_cookie(self, secure=self._site.secure_cookies)
        if self.multipart_content_type is None or UploadGate.guards(self.method, route_of(self.uri)):
            super().process()  # no multipart body, or one its route stream-parses (an upload, a picture)
            return
        Deferred.fromCoroutine(self._read_multipart(self.multipart_content_type))

    async def _read_multipart(self, content_type: bytes) -> None:
        """Parse a (size-capped) multipart body of a route that takes no file, in a thread, then route the
        request; a malformed body is kept as its FormError, which `read_body` answers with a 400."""
        try:
            boundary = boundary_of(content_type)
            self.multipart_fields = await run_cpu(read_fields, self.content, boundary)
        except FormError as e:
            self.multipart_fields = e
        if self.channel is not None:  # else the client left meanwhile
            Request.process(self)


def _is_upload(request: Any) -> bool:
    """POST /api/v1/uploads/ (its request line is set by gotLength)."""
    return request.method == b"POST" and route_of(request.uri) == UPLOADS


class FunkwhaleSite(Site):
    requestFactory = FunkwhaleRequest
    secure_cookies = False  # Secure flag on session and CSRF cookies (public URL is https)
    upload_spool_dir: str | None = None  # where upload bodies are spooled (MEDIA_ROOT/incoming)
    upload_gate: Any = None  # web.upload_gate.UploadGate: admits upload bodies from their headers
    body_timeout: float = 30  # FUNKWHALE_BODY_TIMEOUT
    body_min_rate: int = 1024  # FUNKWHALE_BODY_MIN_RATE
    settings: Settings  # set by make_site; the access log's client address depends on the proxy settings
    metrics: Any = None  # metrics.http.RequestMetrics when FUNKWHALE_METRICS is on: counts each logged request
    # Set by service.WebServer once every service has started; the listener is bound (and answers) before, so
    # /api/v1/health/ says 503 "starting" until then
    ready = False

    def __init__(self, resource: Any, max_body: int = DEFAULT_MAX_BODY, upload_max_body: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(resource, **kwargs)
        self.max_body = max_body
        self.upload_max_body = upload_max_body or max_body
        self.in_flight: set[Any] = set()

    def max_body_for(self, request: Any) -> int:
        """Uploads may be large; everything else stays small."""
        return self.upload_max_body if _is_upload(request) else self.max_body

    def spool_dir_for(self, request: Any, length: int | None) -> str | None:
        """Where to spool the body of an upload that is not small (None: Twisted's default)."""
        if self.upload_spool_dir and _is_upload(request) and (length is None or length >= SMALL_BODY):
            return self.upload_spool_dir
        return None

    def started(self, request: Any) -> None:
        request.received_at = self.reactor.seconds()
        self.in_flight.add(request)

    def log(self, request: Any) -> None:
        """A structured access-log event (instead of twistd's combined-log line)."""
        from funkwhale.logs import log_access

        received = getattr(request, "received_at", None)
        duration = None if received is None else self.reactor.seconds() - received
        log_access(request, duration, self.settings)
        if self.metrics is not None:
            self.metrics.observe(request, duration)

    def finished(self, request: Any) -> None:
        self.in_flight.discard(request)

    async def drain(self, grace: float, clock: Any) -> None:
        """Wait up to `grace` seconds for in-flight requests, then drop what is left."""
        waited = 0.0
        while self.in_flight and waited < grace:
            await deferLater(clock, 0.1, lambda: None)
            waited += 0.1
        for request in list(self.in_flight):
            channel = getattr(request, "channel", None)
            if channel is not None and channel.transport is not None:
                channel.transport.abortConnection()
