"""The one client for every outgoing federation request: SSRF guard, TLS, caps, timeouts, signatures.

Each hop (the first request and every redirect, which this client follows itself, at most MAX_REDIRECTS) is
resolved once; every address the name resolves to must be public (unless private networks are allowed by
FUNKWHALE_EXTERNAL_REQUESTS_ALLOW_PRIVATE_NETWORKS, or the address is explicitly allowed), and the connection
goes to the address that was checked, so a second DNS answer cannot point it elsewhere (DNS rebinding).
TLS is verified against the system trust (SSL_CERT_FILE when set), unless FUNKWHALE_EXTERNAL_REQUESTS_VERIFY_SSL
is false. Bodies are streamed and abandoned past a cap; a connect timeout and a total deadline bound each call.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, Protocol, cast
from urllib.parse import urljoin, urlsplit

from OpenSSL import SSL
from twisted.internet import defer, protocol
from twisted.internet import reactor as global_reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, wrapClientTLS
from twisted.internet.error import ConnectError
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IPushProducer
from twisted.internet.ssl import (
    Certificate,
    CertificateOptions,
    optionsForClientTLS,
    platformTrust,
    trustRootFromCertificates,
)
from twisted.internet.threads import deferToThread
from twisted.python.failure import Failure
from twisted.web.client import (
    Agent,
    FileBodyProducer,
    HTTPConnectionPool,
    RequestTransmissionFailed,
    ResponseDone,
    ResponseFailed,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from funkwhale.activitypub import signatures
from funkwhale.config import Settings
from funkwhale.threads import run_io

MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 5.0
TOTAL_TIMEOUT = 30.0
MAX_JSON_BODY = 1024 * 1024
USER_AGENT = "funkwhale-twisted (+federation; Funkwhale/1.4.0)"
AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
_AP_TYPES = ("application/activity+json", "application/ld+json")
_REDIRECTS = (301, 302, 303, 307, 308)

Resolver = Callable[[str, int], Awaitable[list[str]]]


class FetchError(Exception):
    """An outgoing request failed or was refused; `str(e)` says why."""


class BlockedAddress(FetchError):
    """The host resolves to an address we must not connect to (loopback, private, link-local...)."""


class ResponseTooLarge(FetchError):
    """The body was larger than the cap: it was abandoned."""


def address_allowed(address: str) -> bool:
    """Whether an IP address is a public unicast one (IPv4-mapped / 6to4 / NAT64 forms judged by their IPv4)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in ipaddress.IPv6Network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is None and ip.teredo is not None:
            embedded = ip.teredo[1]
        if embedded is not None:
            return address_allowed(str(embedded))
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip.is_link_local)


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of `host` from getaddrinfo, in a thread of the reactor's pool (the one meant for DNS)."""
    infos = await deferToThread(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Signer:
    """Signs each hop of a request with a local actor's key (the service actor's, or a user's)."""

    key_id: str
    private_key_pem: str

    @classmethod
    def for_actor(cls, actor_fid: str, private_key_pem: str) -> Signer:
        return cls(f"{actor_fid}#main-key", private_key_pem)


class BodySink(Protocol):
    """Where `Fetcher.stream` hands a body: `started` gives the connection (pause/resume it for backpressure),
    then `write` each chunk as it arrives."""

    def started(self, producer: IPushProducer) -> None: ...

    def write(self, data: bytes) -> None: ...


@dataclass(frozen=True)
class FetchResponse:
    status: int
    headers: Headers
    body: bytes
    url: str  # after redirects

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[0] if values else None


def trust_root() -> Any:
    """The CAs outgoing TLS trusts: the PEM bundle SSL_CERT_FILE names when set, else the platform's."""
    path = os.environ.get("SSL_CERT_FILE")
    if not path:
        return platformTrust()

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise FetchError(f"cannot read SSL_CERT_FILE {path}: {e.strerror}") from None
    marker = b"-----END CERTIFICATE-----"
    blocks = [block + marker for block in data.split(marker) if b"-----BEGIN CERTIFICATE-----" in block]
    if not blocks:
        raise FetchError(f"SSL_CERT_FILE {path} holds no certificate")
    return trustRootFromCertificates([Certificate.loadPEM(block.strip()) for block in blocks])


@implementer(IOpenSSLClientConnectionCreator)
class _Unverified:
    """TLS without certificate checks (FUNKWHALE_EXTERNAL_REQUESTS_VERIFY_SSL=false), still sending SNI."""

    def __init__(self, hostname: str) -> None:
        self._context = CertificateOptions(verify=False).getContext()
        self._hostname = hostname

    def clientConnectionForTLS(self, tls_protocol: Any) -> SSL.Connection:
        connection = SSL.Connection(self._context, None)
        connection.set_app_data(tls_protocol)
        if not _is_ip(self._hostname):
            connection.set_tlsext_host_name(self._hostname.encode("idna"))
        connection.set_connect_state()
        return connection


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


@implementer(IAgentEndpointFactory)
class _PinnedEndpoint:
    """Connects to the address that was checked, whatever the URI's host resolves to now."""

    def __init__(self, reactor: Any, address: str, tls: Any) -> None:
        self.reactor = reactor
        self.address = address
        self.tls = tls

    def endpointForURI(self, uri: Any) -> Any:
        kind = TCP6ClientEndpoint if ":" in self.address else TCP4ClientEndpoint
        endpoint = kind(self.reactor, self.address, uri.port, timeout=CONNECT_TIMEOUT)
        return wrapClientTLS(self.tls, endpoint) if uri.scheme == b"https" else endpoint


def _stop(transport: Any) -> None:
    """Drop a response body's connection (the transport Agent gives a body protocol is a push producer)."""
    if transport is not None:
        cast(IPushProducer, transport).stopProducing()


class _Discard(protocol.Protocol):
    """Abandons a body unread (drops the connection)."""

    def connectionMade(self) -> None:
        _stop(self.transport)


class _Collector(protocol.Protocol):
    """Reads a body up to `cap` bytes, into memory, or handed to `sink` chunk by chunk as it arrives (`done` then
    fires with b""); past the cap, drops the connection and fails."""

    def __init__(self, cap: int, sink: BodySink | None = None) -> None:
        self.cap = cap
        self.sink = sink
        self.parts: list[bytes] = []
        self.size = 0
        self.done: defer.Deferred[bytes] = defer.Deferred(lambda _: self._abort())

    def _abort(self) -> None:
        _stop(self.transport)

    def connectionMade(self) -> None:
        if self.sink is not None:
            self.sink.started(cast(IPushProducer, self.transport))

    def dataReceived(self, data: bytes) -> None:
        if self.done.called:
            return
        self.size += len(data)
        if self.size > self.cap:
            self._abort()
            self.done.errback(ResponseTooLarge(f"the response is larger than {self.cap} bytes"))
            return
        if self.sink is not None:
            self.sink.write(data)
        else:
            self.parts.append(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        if self.done.called:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self.parts))
        else:
            self.done.errback(FetchError(f"the response was cut: {reason.getErrorMessage()}"))


@dataclass
class Fetcher:
    """Outgoing HTTP for federation. Build it with `Fetcher.from_settings(settings)`."""

    allow_private: bool = False
    verify_tls: bool = True
    allowed_addresses: frozenset[str] = frozenset()  # always allowed, whatever their range
    resolver: Resolver = system_resolver
    reactor: Any = global_reactor
    total_timeout: float = TOTAL_TIMEOUT
    _trust: Any = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Fetcher:
        return cls(
            allow_private=settings.external_requests_allow_private_networks,
            verify_tls=settings.external_requests_verify_ssl,
            **kwargs,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        signer: Signer | None = None,
        max_body: int = MAX_JSON_BODY,
    ) -> FetchResponse:
        """Send a request (signed at each hop when `signer` is given), following redirects; the response."""
        return await self._deadline(
            url, self.total_timeout, self._request(method, url, headers or {}, body, signer, _Collector(max_body))
        )

    async def stream(
        self,
        url: str,
        sink: BodySink,
        *,
        headers: dict[str, str] | None = None,
        signer: Signer | None = None,
        max_body: int,
        total_timeout: float,
        on_response: Callable[[FetchResponse], None] = lambda _: None,
    ) -> FetchResponse:
        """GET `url` like `request`, but hand a 200 body to `sink` as it arrives (at most `max_body` bytes, the
        whole transfer within `total_timeout` seconds: for media, not JSON). `on_response` is told the final
        response (its body empty) before the first byte, and may refuse it by raising (the body is dropped);
        any other status's body is read into the result (within MAX_JSON_BODY) and the sink gets nothing."""

        def collector(response: Any, final_url: str) -> _Collector:
            final = FetchResponse(response.code, response.headers, b"", final_url)
            if response.code != 200:
                return _Collector(MAX_JSON_BODY)
            try:
                on_response(final)
            except BaseException:
                response.deliverBody(_Discard())
                raise
            return _Collector(max_body, sink)

        return await self._deadline(
            url, total_timeout, self._request("GET", url, headers or {}, None, signer, collector)
        )

    async def _deadline(self, url: str, seconds: float, call: Coroutine[Any, Any, FetchResponse]) -> FetchResponse:
        deferred = defer.Deferred.fromCoroutine(call)
        deferred.addTimeout(seconds, self.reactor)
        try:
            return await deferred
        except defer.TimeoutError:
            raise FetchError(f"no complete answer from {url} within {seconds:g} s") from None

    async def _request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        signer: Signer | None,
        reader: _Collector | Callable[[Any, str], _Collector],
    ) -> FetchResponse:
        """Follow redirects; the final response's body is read by `reader` (or the collector it makes for the
        response); redirects' bodies are dropped."""
        for _ in range(MAX_REDIRECTS + 1):
            response = await self._hop(method, url, headers, body, signer)
            location = response.headers.getRawHeaders("location")
            if response.code not in _REDIRECTS or not location:
                collector = reader if isinstance(reader, _Collector) else reader(response, url)
                if isinstance(response.length, int) and response.length > collector.cap:
                    response.deliverBody(_Discard())
                    raise ResponseTooLarge(f"the response is larger than {collector.cap} bytes")
                response.deliverBody(collector)
                content = await collector.done
                return FetchResponse(response.code, response.headers, content, url)
            response.deliverBody(_Discard())
            url = urljoin(url, location[0])
            if response.code == 303 or (response.code in (301, 302) and method == "POST"):
                method, body = "GET", None
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    async def _hop(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, signer: Signer | None
    ) -> Any:
        """Send one request to the checked address of the URL's host; the response, its body not read yet."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"only http(s) URLs can be fetched: {url!r}")
        host = parts.hostname.rstrip(".").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = await self._checked_address(host, port)
        sent = {"User-Agent": USER_AGENT, **headers}
        if signer is not None:
            sent.update(
                signatures.sign_request(
                    method,
                    url,
                    key_id=signer.key_id,
                    private_key_pem=signer.private_key_pem,
                    now=self.reactor.seconds(),
                    body=body,
                    accept=sent.get("Accept"),
                    content_type=sent.get("Content-Type"),
                )
            )
        else:
            sent.setdefault("Host", parts.netloc.rpartition("@")[2].lower())
        agent = Agent.usingEndpointFactory(
            self.reactor,
            _PinnedEndpoint(self.reactor, address, await self._tls(host)),
            pool=HTTPConnectionPool(self.reactor, persistent=False),
        )
        producer = FileBodyProducer(BytesIO(body)) if body is not None else None
        try:
            return await agent.request(
                method.encode(), url.encode(), Headers({k: [v] for k, v in sent.items()}), producer
            )
        except (ResponseFailed, RequestTransmissionFailed) as e:  # the connection or TLS failed, or the answer was cut
            if any(reason.check(defer.CancelledError) for reason in e.reasons):
                raise defer.CancelledError() from None  # the deadline: addTimeout turns it into TimeoutError
            reasons = "; ".join(reason.getErrorMessage() for reason in e.reasons) or repr(e)
            raise FetchError(f"{url}: {reasons}") from None
        except ConnectError as e:
            raise FetchError(f"{url}: {e}") from None

    async def _checked_address(self, host: str, port: int) -> str:
        addresses = [host] if _is_ip(host) else await self._resolve(host, port)
        if not addresses:
            raise FetchError(f"{host} has no address")
        if not self.allow_private:
            refused = [a for a in addresses if a not in self.allowed_addresses and not address_allowed(a)]
            if refused:
                raise BlockedAddress(f"{host} resolves to {refused[0]}, which is not a public address")
        return addresses[0]

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            return await self.resolver(host, port)
        except OSError as e:
            raise FetchError(f"cannot resolve {host}: {e}") from None

    async def _tls(self, host: str) -> Any:
        if not self.verify_tls:
            return _Unverified(host)
        if self._trust is None:
            self._trust = await run_io(trust_root)
        return optionsForClientTLS(host, trustRoot=self._trust)

    async def get_json(self, url: str, *, signer: Signer | None = None, accept: str = "application/json") -> Any:
        """GET a JSON document (at most MAX_JSON_BODY bytes, status 200), parsed one way (see `parse_json`)."""
        response = await self.request("GET", url, headers={"Accept": accept}, signer=signer)
        if response.status != 200:
            raise FetchError(f"{url} answered {response.status}")
        return parse_json(response.body)

    async def get_object(self, url: str, *, signer: Signer | None = None) -> dict[str, Any]:
        """GET an ActivityPub document: AP media type, a JSON object whose `id` is the URL it was served from."""
        response = await self.request("GET", url, headers={"Accept": AP_ACCEPT}, signer=signer)
        if response.status != 200:
            raise FetchError(f"{url} answered {response.status}")
        content_type = (response.header("content-type") or "").split(";", 1)[0].strip().lower()
        if content_type not in _AP_TYPES:
            raise FetchError(f"{url} is not an ActivityPub document ({content_type or 'no content type'})")
        document = parse_json(response.body)
        if not isinstance(document, dict) or document.get("id") != response.url:
            raise FetchError(f"the document's id does not match {response.url}")
        return document


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FetchError(f"the JSON repeats the key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise FetchError(f"the JSON holds {name}, which is not JSON")


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no repeated keys, no NaN/Infinity, so every reader sees the same document."""
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise FetchError("the response is not UTF-8") from None
    except ValueError as e:
        raise FetchError(f"the response is not valid JSON: {e}") from None
