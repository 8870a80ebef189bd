"""Awaiting several pieces of work started together."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from twisted.internet.defer import Deferred, FirstError, ensureDeferred, gatherResults


async def at_once(*work: Coroutine[Any, Any, Any] | Deferred[Any]) -> list[Any]:
    """The results of `work` (coroutines or Deferreds, all already started), in order, once all are done. The first
    failure is raised as it was (not wrapped in a FirstError), once the others are done: their own failures are
    consumed, not logged as unhandled."""
    started = [w if isinstance(w, Deferred) else ensureDeferred(w) for w in work]
    try:
        return await gatherResults(started, consumeErrors=True)
    except FirstError as error:
        for d in started:  # wait for the rest, as a failure of one must not leave the others running unseen
            if not d.called:
                await d
        error.subFailure.raiseException()
        raise  # not reached: raiseException raises
