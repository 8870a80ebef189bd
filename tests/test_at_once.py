"""funkwhale.at_once: several pieces of work awaited together."""

from __future__ import annotations

import pytest
import pytest_twisted
from twisted.internet.defer import Deferred

from funkwhale.at_once import at_once


class Refused(Exception):
    pass


@pytest_twisted.ensureDeferred
async def test_results_come_in_order_whatever_order_the_work_ends_in():
    first, second = Deferred(), Deferred()

    async def third():
        return 3

    done = at_once(first, second, third())
    both = Deferred.fromCoroutine(done)
    second.callback(2)
    first.callback(1)
    assert await both == [1, 2, 3]


@pytest_twisted.ensureDeferred
async def test_the_first_failure_is_raised_as_it_is_once_the_rest_is_done():
    failing, slow, also_failing = Deferred(), Deferred(), Deferred()
    waiting = Deferred.fromCoroutine(at_once(failing, slow, also_failing))
    failing.errback(Refused("no"))
    assert not waiting.called  # the slow one still runs
    also_failing.errback(Refused("neither"))
    slow.callback("late")
    with pytest.raises(Refused, match="no"):
        await waiting
