"""Thread pools of our own, one per kind of blocking work, so a burst of one kind never delays the other.

- `run_io`: file operations a listener is waiting on while a request is served (audio chunk reads, the transcode
  cache, pictures and web-app files). Short, many at once: FUNKWHALE_IO_THREADS threads.
- `run_cpu`: CPU-heavy or bulk work (mutagen, Pillow, hashing and multipart parsing, argon2, RSA key generation,
  copies and scans of imported files). About one thread per core (FUNKWHALE_CPU_THREADS): an import burst queues
  here, not in front of listeners.

The reactor's default pool is left to DNS lookups (STYLE.md, pitfalls); adbapi has its own pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import reactor
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from funkwhale.config import Settings

T = TypeVar("T")


class _Pool:
    """A ThreadPool started on first use and stopped with the reactor; `size` may be set before or after."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size
        self._pool: ThreadPool | None = None

    def resize(self, size: int) -> None:
        self.size = size
        if self._pool is not None:
            self._pool.adjustPoolsize(minthreads=0, maxthreads=size)

    def get(self) -> ThreadPool:
        if self._pool is None:
            self._pool = ThreadPool(minthreads=0, maxthreads=self.size, name=self.name)
            self._pool.start()
            reactor.addSystemEventTrigger("during", "shutdown", self._pool.stop)
        return self._pool


_IO = _Pool("funkwhale-io", Settings.io_threads)
_CPU = _Pool("funkwhale-cpu", Settings.cpu_threads)


def configure(settings: Settings) -> None:
    """Size the pools from the settings (the daemon and the CLI call this at start)."""
    _IO.resize(settings.io_threads)
    _CPU.resize(settings.cpu_threads)


async def run_io(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` in the I/O pool (latency-critical file work) and wait for its result."""
    return await deferToThreadPool(IReactorFromThreads(reactor), _IO.get(), fn, *args, **kwargs)


async def run_cpu(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` in the CPU pool (tags, pictures, hashing, passwords, keys, bulk copies)."""
    return await deferToThreadPool(IReactorFromThreads(reactor), _CPU.get(), fn, *args, **kwargs)
