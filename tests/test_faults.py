"""Faults: deadlocks and serialization failures retried by the real pool; a stop that cannot finish is bounded
(the daemon-level tests, a real twistd whose servers vanish, are in test_daemon.py)."""

from __future__ import annotations

import subprocess
import sys
import threading

import psycopg2
import pytest
import pytest_twisted
from twisted.application.service import Service
from twisted.internet import task
from twisted.internet.defer import Deferred, DeferredList

from funkwhale.db.pool import CONFLICT_ATTEMPTS
from funkwhale.service import STEP_RESERVE, Ordered


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


class Recorded(Service):
    """Stops at once and records it; or never stops, when `hangs`."""

    def __init__(self, name: str, stopped: list[str], hangs: bool = False) -> None:
        self.name = name
        self.stopped = stopped
        self.hangs = hangs

    def stopService(self) -> Deferred | None:
        super().stopService()
        if self.hangs:
            return Deferred()
        self.stopped.append(self.name)
        return None


def test_a_service_that_does_not_stop_is_given_up_on_and_the_ones_after_it_still_stop():
    clock, stopped = task.Clock(), []
    top = Ordered(clock, stop_budget=25)
    for service in (Recorded("embedded", stopped), Recorded("worker", stopped, hangs=True), Recorded("web", stopped)):
        service.setServiceParent(top)
    top.startService()
    done = top.stopService()
    assert stopped == ["web"] and not done.called
    clock.advance(25 - STEP_RESERVE - 0.01)
    assert not done.called
    clock.advance(0.01)  # the worker's share: the budget minus what is kept for the one service after it
    assert done.called
    assert stopped == ["web", "embedded"]
    assert top.gave_up == ["worker"] and top.stopping == ["worker"]


def test_the_watchdog_ends_a_process_whatever_holds_it_and_names_what_was_stopping():
    script = (
        "import sys, threading\n"
        "from twisted.logger import globalLogBeginner, textFileLogObserver\n"
        "from funkwhale.shutdown import exit_if_stuck\n"
        "globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])\n"
        "exit_if_stuck(0.1, lambda: ['database'])\n"
        "threading.Event().wait()  # as a join of a thread stuck in a query would\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "shutdown: gave up after 0.1 s, still stopping: database; exiting now" in done.stdout, done
