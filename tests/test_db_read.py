"""Database.read: a read whose statements are each their own transaction (no BEGIN/COMMIT round trips), on the
same pool as Database.run, whose transactions stay whole."""

from __future__ import annotations

from typing import Any

import psycopg2
import pytest
import pytest_twisted

from funkwhale.db.params import NamedParams
from funkwhale.db.pool import Database


@pytest_twisted.async_yield_fixture
async def db(settings):
    database = Database(settings.database_url, 1)  # one connection: every call below uses the same
    database.startService()
    yield database
    database.stopService()


def _two_transaction_ids_txn(txn: Any) -> tuple[int, int]:
    ids = []
    for _ in range(2):
        txn.execute("SELECT txid_current() AS id")
        ids.append(txn.fetchone()["id"])
    return ids[0], ids[1]


def _fails_txn(txn: Any) -> None:
    txn.execute("SELECT 1 / 0")


@pytest_twisted.ensureDeferred
async def test_a_read_runs_each_statement_alone_and_a_run_stays_one_transaction(db):
    first, second = await db.read(_two_transaction_ids_txn, desc="test")
    assert first != second
    first, second = await db.run(_two_transaction_ids_txn, desc="test")
    assert first == second
    with pytest.raises(psycopg2.errors.DivisionByZero):
        await db.read(_fails_txn, desc="test")
    first, second = await db.run(_two_transaction_ids_txn, desc="test")
    assert first == second, "the connection went back to transactions after a failed read"


def _seqscan_txn(txn: Any) -> tuple[str, str]:
    """enable_seqscan as a statement run with it off sees it, then as the next statement does."""
    statement = NamedParams()
    statement.settings = (("enable_seqscan", "off"),)
    inside = statement.fetchone(txn, "SELECT current_setting('enable_seqscan') AS v")
    txn.execute("SELECT current_setting('enable_seqscan') AS v")
    return inside["v"], txn.fetchone()["v"]


@pytest_twisted.ensureDeferred
async def test_a_statements_own_settings_hold_for_it_alone_in_a_read_and_in_a_run(db):
    assert await db.read(_seqscan_txn, desc="test") == ("off", "on")
    assert await db.run(_seqscan_txn, desc="test") == ("off", "on")


def _isolation_txn(txn: Any) -> str:
    txn.execute("SHOW transaction_isolation")
    return txn.fetchone()["transaction_isolation"]


@pytest_twisted.ensureDeferred
async def test_transactions_are_read_committed_whatever_the_servers_default(settings):
    admin = psycopg2.connect(settings.database_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT current_database()")
        name = cur.fetchone()[0]
        cur.execute(f'ALTER DATABASE "{name}" SET default_transaction_isolation = serializable')
    database = Database(settings.database_url, 1)
    database.startService()
    try:
        assert await database.run(_isolation_txn, desc="test") == "read committed"
        assert await database.read(_isolation_txn, desc="test") == "read committed"
        assert await database.run(_isolation_txn, desc="test") == "read committed"
    finally:
        database.stopService()
        with admin.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" RESET default_transaction_isolation')
        admin.close()
