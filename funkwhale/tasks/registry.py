"""Task registry: `@task("name")` registers an async function `fn(ctx, *args)` that a worker can run.

Modules that define tasks register them when imported; list them in TASK_MODULES so that every process
that enqueues or runs tasks knows them (`load_tasks()` imports them once).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

TaskFunction = Callable[..., Coroutine[Any, Any, Any]]
F = TypeVar("F", bound=TaskFunction)

# Modules whose import registers tasks, e.g. "funkwhale.music.tasks".
TASK_MODULES: list[str] = [
    "funkwhale.music.importer.tasks",
    "funkwhale.music.importer.rescans",
    "funkwhale.music.importer.server_imports",
    "funkwhale.music.importer.refresh",
    "funkwhale.music.attachments.crops",
    "funkwhale.music.playback.transcode",
    "funkwhale.activitypub.scan_tasks",
    "funkwhale.activitypub.music_outbox",
    "funkwhale.activitypub.delivery",
    "funkwhale.activitypub.processing",
    "funkwhale.music.playback.remote",
]

DEFAULT_QUEUE = "default"
DEFAULT_MAX_RETRIES = 5

_tasks: dict[str, TaskDefinition] = {}
_loaded = False


class UnknownTask(LookupError):
    """No task is registered under this name."""


@dataclass(frozen=True)
class TaskDefinition:
    name: str
    fn: TaskFunction
    max_retries: int
    queue: str
    timeout: float


def task(
    name: str, *, max_retries: int = DEFAULT_MAX_RETRIES, queue: str = DEFAULT_QUEUE, timeout: float = 600
) -> Callable[[F], F]:
    """Register `fn(ctx, *args)` as task `name`: retried `max_retries` times, cancelled after `timeout` s."""

    def register(fn: F) -> F:
        existing = _tasks.get(name)
        if existing is not None and _qualified(existing.fn) != _qualified(fn):
            raise ValueError(f"task {name!r} is already registered by {_qualified(existing.fn)}")
        _tasks[name] = TaskDefinition(name, fn, max_retries, queue, timeout)
        return fn

    return register


def _qualified(fn: TaskFunction) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def load_tasks() -> None:
    """Import the task modules once, so that their tasks are registered."""
    global _loaded
    if not _loaded:
        for module in TASK_MODULES:
            importlib.import_module(module)
        _loaded = True


def lookup(name: str) -> TaskDefinition:
    """The definition of task `name`; UnknownTask when nothing registers it."""
    load_tasks()
    try:
        return _tasks[name]
    except KeyError:
        raise UnknownTask(name) from None


def queues() -> list[str]:
    """Every queue a registered task uses, and the default queue."""
    load_tasks()
    return sorted({DEFAULT_QUEUE, *(t.queue for t in _tasks.values())})
