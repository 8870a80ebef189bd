"""Bounded shutdown: stop work that may hang runs in threads nobody joins, and a last-resort exit.

SIGTERM must end the daemon within 30 s whatever state its servers are in (a deleted data directory, killed
embedded servers, a hung query). `Ordered` (service.py) gives each service a deadline within STOP_BUDGET;
what may block a thread (the pool's close, the embedded servers' stop) runs `in_daemon_thread`, so that giving
up on it does not leave the reactor or the interpreter joining it; `exit_if_stuck` ends the process at
HARD_DEADLINE if it is still alive, whatever holds it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger()

STOP_BUDGET = 25.0  # seconds for stopping every service, in order
HARD_DEADLINE = 28.0  # seconds after SIGTERM at which the process exits, stopped or not


def in_daemon_thread(name: str, fn: Callable[..., Any], *args: Any) -> Deferred:
    """Run `fn(*args)` in a new daemon thread; its result comes back through a Deferred on the reactor.
    A call that hangs holds only that thread, which neither the reactor's shutdown nor the exit waits for."""
    from twisted.internet import reactor

    d: Deferred = Deferred()

    def run() -> None:
        try:
            result = fn(*args)
        except BaseException:
            reactor.callFromThread(d.errback, Failure())  # type: ignore[attr-defined]
        else:
            reactor.callFromThread(d.callback, result)  # type: ignore[attr-defined]

    threading.Thread(target=run, name=name, daemon=True).start()
    return d


def exit_if_stuck(seconds: float, still_stopping: Callable[[], list[str]]) -> None:
    """Exit with status 1 in `seconds` unless the process has ended by then, naming what was still stopping.
    The timer is a daemon thread: it fires even while the reactor thread is blocked (say, joining a thread)."""

    def fire() -> None:
        log.critical(
            "shutdown: gave up after {s:g} s, still stopping: {what}; exiting now",
            s=seconds,
            what=", ".join(still_stopping()) or "the reactor (a joined thread)",
        )
        flush_and_exit(1)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def flush_and_exit(code: int) -> None:
    """End the process now (no thread is joined), after writing out what the log holds."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
