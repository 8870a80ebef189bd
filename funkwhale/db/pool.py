"""The PostgreSQL connection pool (adbapi over psycopg2) as a service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2
import psycopg2.extras
from twisted.application.service import Service
from twisted.enterprise import adbapi
from twisted.logger import Logger

log = Logger()
T = TypeVar("T")


class DatabaseUnavailable(Exception):
    """PostgreSQL did not answer (connection lost on every attempt)."""


def _on_connect(conn: Any) -> None:
    """Runs in a pool thread once per connection."""
    psycopg2.extras.register_uuid(conn_or_curs=conn)
    conn.set_session(isolation_level="READ COMMITTED")


class Database(Service):
    """Owns the adbapi pool. `run(fn, *args, desc=)` runs `fn(txn, *args)` in one transaction."""

    name = "database"

    def __init__(self, dsn: str, size: int = 10) -> None:
        self.dsn = dsn
        self.size = size
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
            cp_openfun=_on_connect,
            cursor_factory=psycopg2.extras.RealDictCursor,
            application_name="funkwhale",
            options="-c statement_timeout=30000",
        )

    def stopService(self) -> None:
        super().stopService()
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    async def run(self, fn: Callable[..., T], *args: Any, desc: str, retry: bool = False) -> T:
        """Run `fn(txn, *args)` in a transaction; retry on a lost connection only when `retry` (idempotent)."""
        if self.pool is None:
            raise DatabaseUnavailable(desc)
        for attempt in range(1, 4 if retry else 2):
            try:
                return await self.pool.runInteraction(fn, *args)
            except adbapi.ConnectionLost:
                log.warn("database connection lost in {desc} (attempt {attempt})", desc=desc, attempt=attempt)
        raise DatabaseUnavailable(desc)


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
    cursor_factory = psycopg2.extras.RealDictCursor if dict_rows else None
    try:
        conn = psycopg2.connect(
            dsn, cursor_factory=cursor_factory, connect_timeout=10, application_name="funkwhale-cli"
        )
    except psycopg2.OperationalError as e:
        reason = (str(e).strip().splitlines() or ["no reason given"])[0]
        raise DatabaseUnreachable(f"cannot reach the database: {reason}") from None
    _on_connect(conn)
    return conn
