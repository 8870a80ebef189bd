"""The HTTP site: a request class that caps bodies and never parses multipart on the reactor thread,
and a Site that knows its in-flight requests so shutdown can let them finish."""

from __future__ import annotations

import tempfile
from typing import Any

from twisted.internet.task import deferLater
from twisted.web.server import Request, Site

from funkwhale.config import Settings

DEFAULT_MAX_BODY = 10 * 1024 * 1024
SMALL_BODY = 100_000  # Twisted keeps bodies below this in memory


class FunkwhaleRequest(Request):
    """Refuses bodies above the site's limit; leaves multipart bodies unparsed (routes stream-parse them)."""

    def gotLength(self, length: int | None) -> None:
        site = self.channel.site  # type: ignore[union-attr]
        limit = site.max_body_for(self)
        if length is not None and length > limit:
            self._too_large()
            return
        spool = site.spool_dir_for(self, length)
        if spool is None:
            super().gotLength(length)
        else:  # large upload bodies go beside the media (not to /tmp, maybe a small tmpfs), unnamed
            self.content = tempfile.TemporaryFile(dir=spool)

    def handleContentChunk(self, data: bytes) -> None:
        limit = self.channel.site.max_body_for(self)  # type: ignore[union-attr]
        if self.content is not None and self.content.tell() + len(data) > limit:
            self._too_large()
            return
        super().handleContentChunk(data)

    def _too_large(self) -> None:
        self.channel.transport.write(  # type: ignore[union-attr]
            b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b'Content-Length: 67\r\n\r\n{"detail":"The request body is too large.","code":"body_too_large"}'
        )
        self.channel.transport.loseConnection()  # type: ignore[union-attr]
        self.content = None

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        ctype = self.requestHeaders.getRawHeaders(b"content-type", [b""])[0]
        if ctype.lower().startswith(b"multipart/form-data"):
            # Twisted would parse the whole body in memory here (_getMultiPartArgs): hide the type from it
            # and keep the original for the route that stream-parses the body.
            self.multipart_content_type = ctype
            self.requestHeaders.setRawHeaders(b"content-type", [b"application/octet-stream"])
        # Register before processing: a response written synchronously finishes inside requestReceived.
        site = self.channel.site  # type: ignore[union-attr]
        site.started(self)
        self.notifyFinish().addBoth(lambda _: site.finished(self))
        super().requestReceived(command, path, version)

    def process(self) -> None:
        from funkwhale.web.api.auth import ensure_csrf_cookie

        ensure_csrf_cookie(self, secure=self.channel.site.secure_cookies)  # type: ignore[union-attr]
        super().process()


def _is_upload(request: Any) -> bool:
    return (getattr(request.channel, "_path", b"") or b"").startswith(b"/api/v1/uploads")


class FunkwhaleSite(Site):
    requestFactory = FunkwhaleRequest
    secure_cookies = False  # Secure flag on session and CSRF cookies (public URL is https)
    upload_spool_dir: str | None = None  # where upload bodies are spooled (MEDIA_ROOT/incoming)
    settings: Settings  # set by make_site; the access log's client address depends on the proxy settings

    def __init__(self, resource: Any, max_body: int = DEFAULT_MAX_BODY, upload_max_body: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(resource, **kwargs)
        self.max_body = max_body
        self.upload_max_body = upload_max_body or max_body
        self.in_flight: set[Any] = set()

    def max_body_for(self, request: Any) -> int:
        """Uploads may be large; everything else stays small. Called before `uri` is set, so read the path
        from the channel."""
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
        log_access(request, None if received is None else self.reactor.seconds() - received, self.settings)

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


