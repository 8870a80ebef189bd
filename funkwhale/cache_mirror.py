"""This process's copies of values of the Redis cache (funkwhale.cache), served without a round trip to Redis while
the process hears every change of the generations they were computed under.

Redis announces every write to a generation key (`fw:cache:gen:<scope>`: `cache.invalidate`, the CLI, an INCR by
hand) on its keyspace channel, the `K$` flags of `notify-keyspace-events`, which a connection of each process sets
and listens to. On an announcement the mirror forgets that scope's generation: the next read of a value that
depends on it goes to Redis, which answers under the new generation. A process that invalidates forgets at once;
the others when the announcement reaches them, which Redis writes in the same pass as its answer to the INCR
(microseconds apart). While that connection is down,
or when Redis refuses to announce (`CONFIG` disabled), the mirror keeps nothing and every read goes to Redis.

A copy lives as long as its Redis entry had left when it was read (at most LIFETIME seconds); the copies hold at
most CAPACITY bytes, the least recently used dropped first. Hits served here are added to the instance's counters
in Redis (`metrics.counters.CACHE`) every FLUSH_EVERY seconds and before /metrics reads them.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict, deque
from collections.abc import Sequence
from typing import Any

from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from funkwhale.metrics import counters

GENERATION_PREFIX = "fw:cache:gen:"
CAPACITY = 16 * 1024 * 1024  # bytes of copies per process
LARGEST = CAPACITY // 16  # a larger value is read from Redis each time
LIFETIME = 60.0  # seconds a copy lives at most
FLUSH_EVERY = 10.0  # seconds between additions of this process's hits to the instance's counters
_FLAGS = "K$"  # keyspace events of string commands (INCR, SET, DEL...)

log = Logger()


class Mirror:
    """The copies, and the generations they were computed under, of this process."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.listening = False
        self.hits: Counter[str] = Counter()  # by cache name, not yet added to the instance's counters
        self._epoch = 0  # counts what may have changed generations: a read started before learns nothing
        self._generations: dict[str, str] = {}
        self._highest: dict[str, int] = {}
        self._copies: OrderedDict[str, tuple[float, Any, int]] = OrderedDict()  # full key -> (expiry, raw, size)
        self._size = 0

    def get(self, base: str, depends: Sequence[str]) -> Any:
        """The raw value of the key `base` under the current generations of `depends`, or None."""
        if not self.listening:
            return None
        try:
            full = base + "@" + ".".join([self._generations[scope] for scope in depends])
        except KeyError:
            return None
        copy = self._copies.get(full)
        if copy is None:
            return None
        if copy[0] <= time.monotonic():
            self._drop(full)
            return None
        self._copies.move_to_end(full)
        return copy[1]

    def ticket(self) -> int:
        """Taken before a read from Redis, given back to `learn`/`keep` with what the read brought."""
        return self._epoch if self.listening else -1

    def learn(self, ticket: int, depends: Sequence[str], full: str, raw: Any, ttl_ms: int) -> None:
        """What a read from Redis brought: the generations in its `full` key, and its value (`ttl_ms` left)."""
        if ticket != self._epoch or not self.listening:
            return
        generations = full.rpartition("@")[2].split(".")
        for scope, generation in zip(depends, generations, strict=True):
            if int(generation) < self._highest.get(scope, 0):
                # Redis lost its generations (FLUSHALL, a restart): a full key may come back with older copies
                self._reset()
                return
            self._highest[scope] = int(generation)
            self._generations[scope] = generation
        if raw is not None:
            self.keep(ticket, full, raw, ttl_ms)

    def keep(self, ticket: int, full: str, raw: Any, ttl_ms: int) -> None:
        """A copy of the value stored at `full` with `ttl_ms` left, unless generations may have changed since
        `ticket` was taken."""
        size = len(raw)
        if ticket != self._epoch or not self.listening or ttl_ms <= 0 or size > min(LARGEST, self.capacity):
            return
        self._drop(full)
        self._copies[full] = (time.monotonic() + min(ttl_ms / 1000, LIFETIME), raw, size)
        self._size += size
        while self._size > self.capacity:
            self._drop(next(iter(self._copies)))

    def heard(self, scope: str) -> None:
        """Redis announced a write to the generation of `scope`."""
        self._epoch += 1
        self._generations.pop(scope, None)

    def start(self) -> None:
        """The announcements are heard from now on."""
        self._reset()
        self.listening = True

    def stop(self) -> None:
        """The announcements are no longer heard: keep nothing."""
        self.listening = False
        self._reset()

    async def flush_hits(self, redis: Any) -> None:
        """Add the hits served here to the instance's counters in Redis."""
        hits, self.hits = self.hits, Counter()
        for name, count in hits.items():
            await redis.hincrby(counters.CACHE, f"{name}|hit", count)

    def _drop(self, full: str) -> None:
        copy = self._copies.pop(full, None)
        if copy is not None:
            self._size -= copy[2]

    def _reset(self) -> None:
        self._epoch += 1
        self._generations.clear()
        self._highest.clear()
        self._copies.clear()
        self._size = 0


class _Incomplete(Exception):
    """The buffer ends inside a reply."""


class ReplyError(Exception):
    """Redis answered a command with an error."""


def _reply(buffer: bytes, start: int) -> tuple[Any, int]:
    """The RESP2 reply at `start` of `buffer` and where the next begins; _Incomplete when it is not all there."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        raise _Incomplete
    kind, head, after = buffer[start : start + 1], buffer[start + 1 : end], end + 2
    if kind == b"+":
        return head.decode(), after
    if kind == b"-":
        return ReplyError(head.decode()), after
    if kind == b":":
        return int(head), after
    if kind == b"$":
        size = int(head)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            raise _Incomplete
        return buffer[after : after + size].decode("utf-8", "replace"), after + size + 2
    if kind == b"*":
        items: list[Any] = []
        for _ in range(max(0, int(head))):
            item, after = _reply(buffer, after)
            items.append(item)
        return items, after
    raise ValueError(f"not a Redis reply: {kind!r}")


def _command(*words: str) -> bytes:
    encoded = [word.encode() for word in words]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded)


class _Listener(Protocol):
    """The connection that hears Redis announce writes to generation keys, for its factory's `mirror`. Replies are
    parsed as they arrive, so an announcement reaches the mirror in the reactor turn that reads it (before any
    request that arrives after it)."""

    factory: Any

    def connectionMade(self) -> None:
        self._buffer = b""
        self._waiting: deque[Deferred] = deque()
        listening = Deferred.fromCoroutine(self._listen())
        listening.addErrback(self._failed)

    def _call(self, *words: str) -> Deferred:
        assert self.transport is not None
        self.transport.write(_command(*words))
        answer: Deferred = Deferred()
        self._waiting.append(answer)
        return answer

    async def _ask(self, *words: str) -> Any:
        reply = await self._call(*words)
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    async def _listen(self) -> None:
        if self.factory.password is not None:
            await self._ask("AUTH", self.factory.password)
        try:
            await self._announce()
        except ReplyError as e:  # Redis refuses CONFIG (a managed or locked-down server): no mirror
            log.warn("cache mirror off: Redis does not announce keyspace events ({e})", e=e)
            return
        await self._ask("PSUBSCRIBE", f"__keyspace@{self.factory.keyspace_db}__:{GENERATION_PREFIX}*")
        self.factory.mirror.start()

    async def _announce(self) -> None:
        """Have Redis announce writes to string keys, keeping the flags it already has."""
        reply = await self._ask("CONFIG", "GET", "notify-keyspace-events")
        flags = reply[1] if len(reply) > 1 else ""
        if "K" not in flags or ("$" not in flags and "A" not in flags):
            await self._ask("CONFIG", "SET", "notify-keyspace-events", flags + _FLAGS)

    def _failed(self, failure: Failure) -> None:
        if self.transport is not None and self.connected:
            log.warn("cache mirror: {e}; connecting again", e=failure.getErrorMessage())
            self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        start = 0
        while start < len(self._buffer):
            try:
                reply, start = _reply(self._buffer, start)
            except _Incomplete:
                break
            if isinstance(reply, list) and reply and reply[0] == "pmessage":
                self.factory.mirror.heard(reply[2].rpartition(GENERATION_PREFIX)[2])
            elif self._waiting:
                self._waiting.popleft().callback(reply)
        self._buffer = self._buffer[start:]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.factory.mirror.stop()
        waiting, self._waiting = self._waiting, deque()
        for answer in waiting:
            answer.errback(reason)


class _Listening(Factory):
    """Makes the listening connections of one mirror."""

    protocol = _Listener

    def __init__(self, mirror: Mirror, password: str | None, keyspace_db: int) -> None:
        self.mirror, self.password, self.keyspace_db = mirror, password, keyspace_db


def listen(endpoint: Any, mirror: Mirror, password: str | None, keyspace_db: int) -> ClientService:
    """A started service that keeps a connection to Redis at `endpoint` feeding `mirror`, connecting again
    (backing off up to 10 s) whenever it is lost; stop it at shutdown."""
    factory = _Listening(mirror, password, keyspace_db)
    service = ClientService(endpoint, factory, retryPolicy=backoffPolicy(initialDelay=0.5, maxDelay=10.0))
    service.startService()
    return service
