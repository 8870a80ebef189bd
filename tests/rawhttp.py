"""A raw HTTP/1.1 connection for tests that must control what is sent and when: headers announcing a body the
client never sends, a body that trickles, a request waiting for `100 Continue`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

GUARD = 15  # seconds: a guard against a server that never answers, not a measured expectation


class NoAnswer(AssertionError):
    """The server did not answer (or close) within GUARD seconds."""


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    informational: list[int]  # 1xx statuses that came first

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def parse_response(data: bytes) -> RawResponse:
    """The final response in `data` (1xx ones before it are listed); its body is what follows its headers."""
    informational = []
    while True:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        if 100 <= status < 200:
            informational.append(status)
            data = rest
            continue
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return RawResponse(status, headers, rest, informational)


class RawConnection(Protocol):
    def __init__(self) -> None:
        self.data = b""
        self.closed = False
        self._waiters: list[tuple[bytes | None, Deferred]] = []

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        self._wake()

    def connectionLost(self, reason: Any) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        for marker, d in list(self._waiters):
            if self.closed or (marker is not None and marker in self.data):
                self._waiters.remove((marker, d))
                d.callback(self.data)

    def send(self, data: bytes) -> None:
        self.transport.write(data)

    def close(self) -> None:
        self.transport.abortConnection()

    async def until(self, marker: bytes | None) -> bytes:
        """What came so far once `marker` has come (None: once the server closed the connection)."""
        if self.closed or (marker is not None and marker in self.data):
            return self.data
        d: Deferred = Deferred()
        self._waiters.append((marker, d))
        try:
            return await d.addTimeout(GUARD, reactor)
        except Exception:
            raise NoAnswer(f"no answer from the server; got {self.data[:300]!r}") from None

    async def response(self) -> RawResponse:
        """The server's answer, once it has closed the connection."""
        return parse_response(await self.until(None))


async def connect(port: int) -> RawConnection:
    return await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), RawConnection())


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
