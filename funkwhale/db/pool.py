"""The PostgreSQL connection pool (adbapi over psycopg2) as a service."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import psycopg2
import psycopg2.extras
from twisted.application.service import Service
from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger

from funkwhale.db import prepared
from funkwhale.db.cursor import DictCursor
from funkwhale.shutdown import in_daemon_thread

log = Logger()
T = TypeVar("T")

# SQLSTATEs of a transaction PostgreSQL aborted because of other transactions, not because of its own content:
# running it again is the documented remedy.
DEADLOCK_DETECTED = "40P01"
SERIALIZATION_FAILURE = "40001"
CONFLICT_ATTEMPTS = 3
CONFLICT_BACKOFF = 0.05  # seconds before the 2nd attempt, doubled each time, +-50 % jitter


def is_conflict(error: BaseException) -> bool:
    """Whether PostgreSQL aborted the transaction for a deadlock or a serialization failure."""
    return isinstance(error, psycopg2.Error) and error.pgcode in (DEADLOCK_DETECTED, SERIALIZATION_FAILURE)


def conflict_backoff(attempt: int, rng: random.Random | Any = random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based) before the next one."""
    return CONFLICT_BACKOFF * 2 ** (attempt - 1) * rng.uniform(0.5, 1.5)


class DatabaseUnavailable(Exception):
    """PostgreSQL did not answer (connection lost on every attempt)."""


def _on_connect(conn: Any) -> None:
    """Runs in a pool thread once per connection."""
    psycopg2.extras.register_uuid(conn_or_curs=conn)
    # json/jsonb columns (the catalog's JSON pieces) parsed by orjson: a 1,000-track page holds ~10,000 of them
    psycopg2.extras.register_default_json(conn, loads=orjson.loads)
    psycopg2.extras.register_default_jsonb(conn, loads=orjson.loads)
    # Every transaction READ COMMITTED, whatever the server's default: a session setting, set once. (Through
    # psycopg2's set_session, each switch to and from autocommit, twice per `Database.read`, cost a round trip
    # to set the level again.)
    with conn.cursor() as cursor:
        cursor.execute("SET default_transaction_isolation = 'read committed'")
    conn.commit()


def _on_plain_connect(conn: Any) -> None:
    """`_on_connect`, for a connection whose statements are never prepared (`db_prepared_statements` off)."""
    _on_connect(conn)
    prepared.plain(conn)


class Database(Service):
    """Owns the adbapi pool. `run(fn, *args, desc=)` runs `fn(txn, *args)` in one transaction."""

    name = "database"

    def __init__(
        self, dsn: str, size: int = 10, clock: IReactorTime | None = None, prepared_statements: bool = True
    ) -> None:
        from twisted.internet import reactor

        self.dsn = dsn
        self.prepared_statements = prepared_statements
        self.size = size
        self.clock: IReactorTime = clock or reactor
        self.pool: adbapi.ConnectionPool | None = None

    def startService(self) -> None:
        super().startService()
        self.pool = adbapi.ConnectionPool(
            "psycopg2",
            self.dsn,
            cp_min=1,
            cp_max=self.size,
            cp_reconnect=True,
            cp_noisy=False,
            cp_openfun=_on_connect if self.prepared_statements else _on_plain_connect,
            cursor_factory=DictCursor,
            application_name="funkwhale",
            options="-c statement_timeout=30000",
        )

    def stopService(self) -> Deferred | None:
        """Close the pool. Closing joins its threads, which a query stuck on a vanished server would hold: that
        runs in a daemon thread, so the shutdown can give up on it (see funkwhale/shutdown.py)."""
        super().stopService()
        pool, self.pool = self.pool, None
        if pool is None:
            return None
        for trigger in ("shutdownID", "startID"):  # what ConnectionPool.close does on the reactor thread
            if getattr(pool, trigger):
                pool._reactor.removeSystemEventTrigger(getattr(pool, trigger))
                setattr(pool, trigger, None)
        return in_daemon_thread("database-close", pool.finalClose)

    def usage(self) -> tuple[int, int, int]:
        """(connections the pool may open, transactions running, transactions waiting for a connection)."""
        if self.pool is None:
            return self.size, 0, 0
        threads = self.pool.threadpool
        return self.size, len(threads.working), threads.q.qsize()

    def idle(self) -> int:
        """Connections free for another transaction now (none while any transaction waits for one)."""
        size, working, waiting = self.usage()
        return 0 if waiting else max(size - working, 0)

    async def read(self, fn: Callable[..., T], *args: Any, desc: str) -> T:
        """`run` for a read of one statement (or of several that need no snapshot in common): each statement runs
        as its own transaction, so psycopg2 sends no BEGIN and COMMIT around it (two round trips of three; a tracks
        page's CPU 3.7 -> 3.4 ms, daemon and PostgreSQL). `fn` must not write: nothing would be atomic."""
        return await self.run(_autocommitted, fn, *args, desc=desc)

    async def run(self, fn: Callable[..., T], *args: Any, desc: str, retry: bool = False) -> T:
        """Run `fn(txn, *args)` in a transaction.

        A transaction PostgreSQL aborts for a deadlock or a serialization failure is run again (up to
        CONFLICT_ATTEMPTS in all, after a jittered pause on the clock): `fn` must be safe to re-run, as the
        `*_txn(txn, ...)` functions are (no generator or other one-shot arguments). On a lost connection it is
        run again only when `retry` (the commit may have happened: only for idempotent work). A transaction that
        found the connection's prepared statements out of date (DDL changed a statement's result type) is run
        again once, on statements prepared anew (funkwhale.db.prepared)."""
        conflicts = lost = 0
        stale = False
        while True:
            if self.pool is None:
                raise DatabaseUnavailable(desc)
            try:
                return await self.pool.runInteraction(fn, *args)
            except adbapi.ConnectionLost:
                lost += 1
                log.warn("database connection lost in {desc} (attempt {attempt})", desc=desc, attempt=lost)
                if not retry or lost >= 3:
                    raise DatabaseUnavailable(desc) from None
            except psycopg2.Error as e:
                if prepared.is_stale(e) and not stale:
                    stale = True
                    log.info("{desc}: prepared statements out of date ({code}), run again", desc=desc, code=e.pgcode)
                    continue
                conflicts += 1
                if not is_conflict(e) or conflicts >= CONFLICT_ATTEMPTS:
                    raise
                delay = conflict_backoff(conflicts)
                log.info(
                    "{desc}: transaction aborted ({code}), attempt {attempt} of {attempts} in {delay:.3f} s",
                    desc=desc,
                    code=e.pgcode,
                    attempt=conflicts + 1,
                    attempts=CONFLICT_ATTEMPTS,
                    delay=delay,
                )
                await deferLater(self.clock, delay, lambda: None)


def _autocommitted(txn: Any, fn: Callable[..., T], *args: Any) -> T:
    """`fn(txn, *args)` with each statement its own transaction (no BEGIN and COMMIT round trips)."""
    connection = txn.connection  # the psycopg2 connection, between transactions here
    connection.autocommit = True
    try:
        return fn(txn, *args)
    finally:
        with contextlib.suppress(psycopg2.InterfaceError):  # the connection is gone: adbapi replaces it
            connection.autocommit = False


def _select_one_txn(txn: Any) -> bool:
    txn.execute("SELECT 1 AS ok")
    return txn.fetchone()["ok"] == 1


async def ping(db: Database) -> bool:
    """True when PostgreSQL answers a trivial query."""
    return await db.run(_select_one_txn, desc="db.ping")


class DatabaseUnreachable(Exception):
    """The database did not accept a connection; the message is one line for the operator."""


def connect(dsn: str, dict_rows: bool = True) -> Any:
    """A plain synchronous connection (CLI, migrations), by default with the same cursor type as the pool."""
    cursor_factory = DictCursor if dict_rows else None
    try:
        conn = psycopg2.connect(
            dsn, cursor_factory=cursor_factory, connect_timeout=10, application_name="funkwhale-cli"
        )
    except psycopg2.OperationalError as e:
        reason = (str(e).strip().splitlines() or ["no reason given"])[0]
        raise DatabaseUnreachable(f"cannot reach the database: {reason}") from None
    _on_connect(conn)
    return conn
