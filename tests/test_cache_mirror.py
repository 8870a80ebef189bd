"""The process's mirror of the Redis cache (funkwhale.cache_mirror): a repeated read makes no round trip to Redis,
and a change, made through the server or behind its back (an INCR by hand), is seen by the next request."""

from __future__ import annotations

import time

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import deferLater

from funkwhale.cache_mirror import LIFETIME, Mirror

from . import catalog_factories as cf
from .conftest import redis_client
from .test_libraries import Session


async def listening(server) -> None:
    """Wait until the server's mirror hears Redis (its connection is made as the server starts)."""
    for _ in range(500):
        if server.ctx.redis.mirror.listening:
            return
        await deferLater(reactor, 0.01, lambda: None)
    raise AssertionError("the cache mirror never listened")


def scripts_run() -> int:
    """How many Lua scripts (the cache's reads) Redis has run."""
    stats = redis_client(cf.REDIS_URL).info("commandstats")
    return sum(stats.get(name, {}).get("calls", 0) for name in ("cmdstat_eval", "cmdstat_evalsha"))


@pytest_twisted.ensureDeferred
async def test_a_repeated_read_needs_no_redis_and_a_change_behind_the_servers_back_is_seen_at_once(
    web_server, db_conn, alice
):
    session = Session(web_server, db_conn, alice)
    await listening(web_server)
    assert (await session.get("/api/v1/users/me/")).code == 200
    before = scripts_run()
    me = await session.get("/api/v1/users/me/")
    assert me.code == 200 and me.json["username"] == "alice"
    assert scripts_run() == before, "the credentials came from the mirror"

    # an administrator ends every session by hand: SQL, then INCR of the credentials' generation
    with db_conn.cursor() as cur:
        cur.execute("DELETE FROM session WHERE user_id = %s", (alice["id"],))
    cf.auth_changed()
    assert (await session.get("/api/v1/users/me/")).code == 401


@pytest_twisted.ensureDeferred
async def test_counts_follow_the_catalog_through_the_mirror(web_server, db_conn, alice):
    library, artist = cf.insert_library(db_conn, alice, "everyone"), cf.insert_artist(db_conn, "Band")
    for n in range(3):
        cf.playable_track(db_conn, library, artist, f"Song {n}")
    cf.catalog_changed()
    session = Session(web_server, db_conn, alice)
    await listening(web_server)
    assert (await session.get("/api/v1/tracks/?page_size=2")).json["count"] == 3
    assert (await session.get("/api/v1/tracks/?page_size=2")).json["count"] == 3
    cf.playable_track(db_conn, library, artist, "Song 3")
    cf.catalog_changed()
    assert (await session.get("/api/v1/tracks/?page_size=2")).json["count"] == 4


@pytest_twisted.ensureDeferred
async def test_without_its_connection_the_mirror_keeps_nothing(web_server, db_conn, alice):
    session = Session(web_server, db_conn, alice)
    await listening(web_server)
    assert (await session.get("/api/v1/users/me/")).code == 200
    redis_client(cf.REDIS_URL).client_kill_filter(_type="pubsub")
    for _ in range(500):  # the connection is lost, then made again
        if not web_server.ctx.redis.mirror.listening:
            break
        await deferLater(reactor, 0.01, lambda: None)
    before = scripts_run()
    assert (await session.get("/api/v1/users/me/")).code == 200
    assert scripts_run() > before, "read from Redis: nothing was kept while not listening"
    await listening(web_server)


def learned(mirror: Mirror, full: str, raw: bytes = b"1", depends: tuple[str, ...] = ("a",)) -> None:
    mirror.learn(mirror.ticket(), depends, full, raw, 60_000)


def test_a_copy_is_served_under_its_generations_only():
    mirror = Mirror()
    mirror.start()
    learned(mirror, "k@3", b"three")
    assert mirror.get("k", ("a",)) == b"three"
    mirror.heard("a")
    assert mirror.get("k", ("a",)) is None
    learned(mirror, "k@4", b"four")
    assert mirror.get("k", ("a",)) == b"four"


def test_a_read_that_started_before_a_change_teaches_nothing():
    mirror = Mirror()
    mirror.start()
    ticket = mirror.ticket()
    mirror.heard("a")
    mirror.learn(ticket, ("a",), "k@3", b"old", 60_000)
    assert mirror.get("k", ("a",)) is None
    mirror.keep(ticket, "k@3", b"old", 60_000)
    learned(mirror, "k@3", None)
    assert mirror.get("k", ("a",)) is None


def test_generations_that_go_back_empty_the_mirror():
    """Redis lost its data (FLUSHALL, a restart without persistence): the same full keys come back."""
    mirror = Mirror()
    mirror.start()
    learned(mirror, "k@5", b"before")
    learned(mirror, "other@5", b"x")
    mirror.heard("a")
    learned(mirror, "k@1", b"after the flush")
    assert mirror.get("k", ("a",)) is None  # nothing is known any more
    learned(mirror, "k@1", b"after the flush")
    assert mirror.get("k", ("a",)) == b"after the flush"
    mirror.heard("a")
    learned(mirror, "other@5", None)
    assert mirror.get("other", ("a",)) is None, "the copy from before the flush is gone"


def test_copies_are_bounded_in_bytes_and_in_time(monkeypatch: pytest.MonkeyPatch):
    mirror = Mirror(capacity=100)
    mirror.start()
    for n in range(5):
        learned(mirror, f"k{n}@1", b"x" * 30)
    assert [mirror.get(f"k{n}", ("a",)) is not None for n in range(5)] == [False, False, True, True, True]
    learned(mirror, "big@1", b"x" * 101)
    assert mirror.get("big", ("a",)) is None
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + LIFETIME + 1)
    assert mirror.get("k4", ("a",)) is None


def test_a_mirror_that_does_not_listen_keeps_nothing():
    mirror = Mirror()
    learned(mirror, "k@1")
    assert mirror.get("k", ("a",)) is None
    mirror.start()
    learned(mirror, "k@1")
    mirror.stop()
    assert mirror.get("k", ("a",)) is None


def test_an_announcement_split_across_reads_reaches_the_mirror_once_whole():
    from twisted.internet.testing import StringTransport

    from funkwhale import cache_mirror

    factory = cache_mirror._Listening(Mirror(), None, 0)
    listener = factory.buildProtocol(None)
    listener.makeConnection(StringTransport())
    factory.mirror.start()
    learned(factory.mirror, "k@1", depends=("auth",))
    message = cache_mirror._command("pmessage", "pat", "__keyspace@0__:fw:cache:gen:auth", "incrby")
    for byte in range(len(message) - 1):
        listener.dataReceived(message[byte : byte + 1])
    assert factory.mirror.get("k", ("auth",)) == b"1"
    listener.dataReceived(message[-1:])
    assert factory.mirror.get("k", ("auth",)) is None
