"""Reading the tags of many files at once: in a pool of processes when the machine has cores to spare (mutagen
holds the GIL, so threads would not read in parallel), else in the CPU thread pool; never on the reactor.

A file's outcome (importer/reading.py, which is all a reading process loads besides mutagen) is its Metadata
(with the folder cover beside it, for in-place files without an embedded picture) or the error code and detail
its upload fails with. A pool that breaks (a reading process killed, or
one that could not start: the forkserver runs the main module again in each process, so a main script must guard
its entry point, as console scripts and twistd do) gives way to threads.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import Deferred, FirstError, gatherResults
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from funkwhale.music import metadata
from funkwhale.music.importer.reading import Read, read_chunk
from funkwhale.storage.base import StoredFile
from funkwhale.threads import run_cpu

log = Logger()

CHUNK = 25  # files per round trip to a reading process
MIN_FILES = 2 * CHUNK  # fewer than this are read in threads: a pool is not worth starting for them
IDLE_SECONDS = 30  # the reading processes end when unused this long (a daemon keeps no memory for them)
PRELOAD = ("funkwhale.music.importer.reading", *metadata.MUTAGEN_MODULES)  # what the fork server imports

_pool: ProcessPoolExecutor | None = None
_started: list[bool] = []  # the shutdown trigger is added once
_in_flight = 0
_idle: IDelayedCall | None = None
_spawning: threading.Thread | None = None


def processes() -> int:
    """Reading processes to use: one per core but one (left to the reactor and PostgreSQL: on 2 cores, one
    reading process imported faster than two); none on a single core (threads then)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores - 1


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def _executor() -> ProcessPoolExecutor:
    """The pool of reading processes, started on first use (forked from a small server process that has loaded
    mutagen, not from this threaded one) and shut down with the reactor or when idle."""
    global _pool
    if _pool is None:
        context = _context()
        if not _started:
            reactor.addSystemEventTrigger("during", "shutdown", _shutdown)
            _started.append(True)
        _pool = ProcessPoolExecutor(max_workers=processes(), mp_context=context)
    return _pool


def prepare(files: int) -> None:
    """Start the fork server of the reading processes when `files` files may be read in them: it loads mutagen in
    the background (a new interpreter, ~0.2 s), and spawning a reading process later waits for a fork only. Unused,
    it ends with this process, once its imports are done: it writes to /dev/null, not to this process's standard
    output and error, so that whoever reads those to their end (a script capturing the command's output) does not
    wait for it. To be called while this process has no other thread (it swaps the file descriptors a moment)."""
    if files >= MIN_FILES and processes() > 0:
        _context()
        sys.stdout.flush()
        sys.stderr.flush()
        kept = [os.dup(1), os.dup(2)]
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, 1)
            os.dup2(null, 2)
            forkserver.ensure_running()
        finally:
            for fd, original in ((1, kept[0]), (2, kept[1])):
                os.dup2(original, fd)
                os.close(original)
            os.close(null)


def _shutdown() -> None:
    global _pool, _idle
    if _idle is not None and _idle.active():
        _idle.cancel()
    _idle = None
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def _used(delta: int) -> None:
    """Count the reads in flight; the pool ends IDLE_SECONDS after the last one."""
    global _in_flight, _idle
    _in_flight += delta
    if _idle is not None and _idle.active():
        _idle.cancel()
    _idle = reactor.callLater(IDLE_SECONDS, _shutdown) if _in_flight == 0 else None


def start(files: int) -> None:
    """Start the reading processes now (unless they run) when `files` files are about to be read in them, so that
    they are ready for the first reads. They are spawned in a thread: the first one waits for the fork server (a
    new interpreter that loads mutagen), which must not stall the reactor."""
    global _spawning
    if files >= MIN_FILES and processes() > 0 and _pool is None:
        pool = _executor()
        _spawning = threading.Thread(target=_spawn, args=(pool,), name="funkwhale-readers-start", daemon=True)
        _spawning.start()
        _used(0)


def _spawn(pool: ProcessPoolExecutor) -> None:
    try:
        for _ in range(processes()):
            pool.submit(read_chunk, [])
    except RuntimeError:  # shut down meanwhile (the command ended)
        pass


def _deferred(future: Future) -> Deferred:
    """A Deferred fired on the reactor with the future's outcome."""
    d: Deferred = Deferred()

    def done(f: Future) -> None:
        error = f.exception()
        fire = d.errback if error is not None else d.callback
        reactor.callFromThread(fire, error or f.result())  # type: ignore[attr-defined]

    future.add_done_callback(done)
    return d


async def read_many(jobs: list[tuple[Path | StoredFile, bool]]) -> list[Read]:
    """The outcome of each (file, in place) in order."""
    plain = list(jobs)
    if len(plain) < MIN_FILES or processes() == 0:
        return await run_cpu(read_chunk, plain)
    if _spawning is not None and _spawning.is_alive():
        await run_cpu(_spawning.join)  # a submit meanwhile would wait on the reactor for the spawn to end
    pool = _executor()
    chunks = [plain[i : i + CHUNK] for i in range(0, len(plain), CHUNK)]
    _used(1)
    try:
        results = await gatherResults([_deferred(pool.submit(read_chunk, c)) for c in chunks], consumeErrors=True)
    except FirstError as e:
        if not e.subFailure.check(BrokenProcessPool):
            raise
        log.warn("the tag-reading processes died ({error}): reading in threads", error=str(e.subFailure.value))
        _shutdown()
        return await run_cpu(read_chunk, plain)
    finally:
        _used(-1)
    return [read for chunk in results for read in chunk]
