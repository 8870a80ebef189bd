"""Faults of PostgreSQL seen through the real pool: deadlocks and serialization failures are retried."""

from __future__ import annotations

import threading

import psycopg2
import pytest
import pytest_twisted
from twisted.internet.defer import Deferred, DeferredList

from funkwhale.db.pool import CONFLICT_ATTEMPTS


def _lock_both_txn(txn, first: int, second: int, barrier: threading.Barrier, attempts: list[int]) -> int:
    """Take two advisory locks in the given order; on the first attempt, wait at `barrier` in between, so two
    callers in opposite orders each hold the lock the other wants: a deadlock PostgreSQL detects."""
    attempts.append(1)
    txn.execute("SELECT pg_advisory_xact_lock(%s)", (first,))
    if len(attempts) == 1:
        barrier.wait(30)
    txn.execute("SELECT pg_advisory_xact_lock(%s)", (second,))
    return len(attempts)


@pytest_twisted.ensureDeferred
async def test_a_deadlocked_transaction_is_run_again_and_both_complete(server):
    barrier = threading.Barrier(2)
    a: list[int] = []
    b: list[int] = []
    results = await DeferredList(
        [
            Deferred.fromCoroutine(server.ctx.db.run(_lock_both_txn, 71, 72, barrier, a, desc="a")),
            Deferred.fromCoroutine(server.ctx.db.run(_lock_both_txn, 72, 71, barrier, b, desc="b")),
        ],
        consumeErrors=True,
    )
    assert [ok for ok, _ in results] == [True, True], results
    assert sorted(value for _, value in results) == [1, 2]  # one ran once, the deadlock victim twice


def _raise_txn(txn, errcode: str, attempts: list[int]) -> None:
    attempts.append(1)
    txn.execute(f"DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '{errcode}'; END $$")


@pytest_twisted.ensureDeferred
async def test_serialization_failures_are_retried_a_bounded_number_of_times(server):
    attempts: list[int] = []
    with pytest.raises(psycopg2.errors.SerializationFailure):
        await server.ctx.db.run(_raise_txn, "serialization_failure", attempts, desc="always conflicting")
    assert len(attempts) == CONFLICT_ATTEMPTS


@pytest_twisted.ensureDeferred
async def test_other_database_errors_are_not_retried(server):
    attempts: list[int] = []
    with pytest.raises(psycopg2.errors.UniqueViolation):
        await server.ctx.db.run(_raise_txn, "unique_violation", attempts, desc="a real error")
    assert attempts == [1]
