"""Waiting for a Deferred with a deadline, without cancelling it."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime


async def within(d: Deferred, seconds: float, clock: IReactorTime) -> bool:
    """Wait for `d` at most `seconds`; whether it fired. `d` itself is left alone."""
    waiter: Deferred = Deferred()

    def fire(value: bool) -> None:
        if not waiter.called:
            waiter.callback(value)

    def fired(result: Any) -> Any:
        fire(True)
        return result

    timer = clock.callLater(seconds, fire, False)
    d.addBoth(fired)
    done = await waiter
    if timer.active():
        timer.cancel()
    return done
