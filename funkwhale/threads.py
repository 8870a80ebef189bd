"""A thread pool of our own for blocking file and CPU work (mutagen, hashing, images, file moves).

The reactor's default pool also serves DNS lookups; slow tag reads must not delay them (STYLE.md, pitfalls).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import reactor
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")

_pool: ThreadPool | None = None


def _get_pool() -> ThreadPool:
    global _pool
    if _pool is None:
        _pool = ThreadPool(minthreads=0, maxthreads=4, name="funkwhale-blocking")
        _pool.start()
        reactor.addSystemEventTrigger("during", "shutdown", _pool.stop)
    return _pool


async def run_blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` in the blocking-work pool and wait for its result."""
    return await deferToThreadPool(reactor, _get_pool(), fn, *args, **kwargs)
