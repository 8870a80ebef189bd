"""Answering a request with an object of the media bucket, once the caller has checked access.

- PROXY_MEDIA=false: a 302 to a presigned URL valid AWS_QUERYSTRING_EXPIRE seconds; the client fetches it.
- PROXY_MEDIA=true behind nginx: `X-Accel-Redirect: /_protected/media/<presigned URL>`; nginx's internal location
  (deploy/nginx.conf) proxies it, passing the client's Range, as Funkwhale's template does.
- PROXY_MEDIA=true without nginx: the daemon relays the object itself. It fetches the presigned URL with treq,
  passing Range, If-Range, If-None-Match and If-Modified-Since, and relays the status (200, 206, 304, 412, 416)
  and the headers that describe the bytes; the body goes to the client as it arrives, the bucket connection
  paused while the client's is full (the response's transport is registered as the request's producer). So no
  thread and no buffer of the whole file: a thread reading boto3's StreamingBody would hold a thread per listener
  for the whole song.
"""

from __future__ import annotations

from typing import Any, cast

import treq
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers

from funkwhale.config import Settings
from funkwhale.storage import MediaMissing, StorageError, media

ACCEL_PREFIX = "/_protected/media/"
FORWARDED = (b"range", b"if-range", b"if-none-match", b"if-modified-since")
RELAYED_STATUSES = (200, 206, 304, 412, 416)
RELAYED = (b"content-length", b"content-range", b"etag", b"last-modified", b"accept-ranges")
TIMEOUT = 30


def object_url(settings: Settings, request: Any, name: str, content_type: str, disposition: str | None) -> str:
    method = "HEAD" if request.method == b"HEAD" else "GET"
    return media(settings).url(name, method, content_type, disposition)


async def serve_object(
    settings: Settings, request: Any, name: str, content_type: str, disposition: str | None = None
) -> bytes:
    """Answer with the bucket object `name` (see the module). MediaMissing (before any header) when the bucket
    has no such object, StorageError when it cannot be reached; only the daemon's own relay can tell."""
    url = object_url(settings, request, name, content_type, disposition)
    if not settings.proxy_media:
        request.setResponseCode(302)
        request.setHeader(b"Location", url.encode("ascii"))
        request.setHeader(b"Cache-Control", b"private, no-store")
        return b""
    if settings.reverse_proxy == "nginx":
        request.setHeader(b"X-Accel-Redirect", (ACCEL_PREFIX + url).encode("ascii"))
        request.setHeader(b"Content-Type", content_type.encode("ascii"))
        if disposition:
            request.setHeader(b"Content-Disposition", disposition.encode("ascii"))
        return b""
    await relay(request, url, content_type, disposition)
    return b""


class _Relay(Protocol):
    """Writes the bucket's body to the request as it arrives; the bucket connection is the request's producer."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.done: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        # deliverBody's transport is a producer (Twisted's TransportProxyProducer), which ITransport does not say
        producer = cast(IPushProducer, self.transport)
        if self.request.channel is None:
            producer.stopProducing()
            return
        self.request.registerProducer(producer, True)

    def dataReceived(self, data: bytes) -> None:
        if self.request.channel is not None:
            self.request.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.request.channel is not None:
            self.request.unregisterProducer()
            if not reason.check(ResponseDone, PotentialDataLoss, ConnectionDone):
                self.request.channel.transport.abortConnection()  # a cut body must not pass for a whole one
        self.done.callback(None)


async def relay(request: Any, url: str, content_type: str, disposition: str | None) -> None:
    headers = Headers({name: [value] for name in FORWARDED if (value := request.getHeader(name)) is not None})
    method = "HEAD" if request.method == b"HEAD" else "GET"
    try:
        response = await treq.request(method, url, headers=headers, unbuffered=True, timeout=TIMEOUT)
    except Exception as e:
        raise StorageError(f"media bucket unreachable: {type(e).__name__}: {e}") from None
    if response.code not in RELAYED_STATUSES:
        await treq.content(response)
        if response.code == 404:
            raise MediaMissing(url.split("?", 1)[0])
        raise StorageError(f"media bucket answered {response.code} for {url.split('?', 1)[0]}")
    request.setResponseCode(response.code)
    for name in RELAYED:
        value = response.headers.getRawHeaders(name)
        if value:
            request.setHeader(name, value[0].encode("latin-1") if isinstance(value[0], str) else value[0])
    request.setHeader(b"Content-Type", content_type.encode("ascii"))
    if disposition:
        request.setHeader(b"Content-Disposition", disposition.encode("ascii"))
    if method == "HEAD" or response.code in (304, 412, 416):
        response.deliverBody(_Relay(_Detached()))
        return
    relay_protocol = _Relay(request)
    response.deliverBody(relay_protocol)
    await relay_protocol.done


class _Detached:
    """A request-shaped sink for a body nobody reads (HEAD, 304): drops it."""

    channel = None
