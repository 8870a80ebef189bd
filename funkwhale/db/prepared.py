"""Server-side prepared statements: a hot statement is planned once per connection, then only executed.

`execute(cursor, statement, params)` runs a psycopg2 statement (named `%(name)s` or positional `%s` placeholders,
`%%` for a literal `%`) as PostgreSQL's `EXECUTE name(...)`, psycopg2 adapting the values as usual. The first time
a connection sees a statement text, `PREPARE name AS <the text in $n form>` goes ahead of the EXECUTE in the same
round trip. The statement's name is a hash of its exact text (texts differ by viewer and filters: each is its own
statement). What a connection has prepared is tracked per psycopg2 connection object (a reconnect starts empty),
at most PER_CONNECTION statements, the least recently used deallocated (in the same round trip) beyond that.

PostgreSQL infers each parameter's type from where it stands, once, at PREPARE: a parameter whose type it cannot
infer (`%(x)s IS NULL`, a bare SELECT item) needs a cast in the SQL (`%(x)s::bigint`), or the PREPARE fails and
aborts the transaction; a value is then cast to that type on each EXECUTE (a Python list to the array type, None
to NULL of it). The prepared path is what every catalog statement takes, so the suite runs each kind of it.

PREPARE and DEALLOCATE are not transactional: a rollback keeps what was prepared, so the tracking stays true. Two
things can still make it wrong, and both are repaired by running the transaction again (`Database.run` does, once,
when `is_stale`): DDL that changes the columns a statement returns (`SELECT t.*` after a migration added a column:
"cached plan must not change result type"), and statements deallocated behind our back (`DEALLOCATE ALL`,
`DISCARD ALL`). The first makes every connection of the process deallocate all its statements at its next use (DDL
outdates them everywhere), the second the connection that found one missing. DDL that leaves the result's columns
as they are needs nothing: PostgreSQL re-plans what it invalidates.
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg2

# Statements kept prepared on one connection: a catalog statement's plans hold 0.5-1.3 MB of its backend's memory
# (pg_backend_memory_contexts), so up to ~30 MB a connection; the lists, counts, details and searches in use at once
# by the web app and a Subsonic client are fewer.
PER_CONNECTION = 32
_PLACEHOLDER = re.compile(r"%%|%\(([^)]*)\)s|%s")
# An EXECUTE whose prepared statement is no longer what was prepared: its result type changed under DDL (0A000
# "cached plan must not change result type", told apart from other 0A000 errors by the server function that raised
# it, whatever the server's language), or it was deallocated behind our back (26000).
_STALE_PLAN = ("0A000", "RevalidateCachedQuery")
_MISSING_STATEMENT = "26000"


@dataclass(frozen=True)
class Converted:
    """A psycopg2 statement as a prepared statement: its `name`, the PREPARE of it (a psycopg2 text: `%` doubled)
    and the EXECUTE of it (placeholders for the values, in the order of its `$n`)."""

    name: str
    prepare: str
    execute: str


@lru_cache(maxsize=1024)
def convert(statement: str) -> Converted:
    """`statement` (psycopg2 placeholders, all named or all positional) turned into a prepared statement."""
    numbers: dict[str, int] = {}
    arguments: list[str] = []

    def number(match: re.Match[str]) -> str:
        token, key = match.group(0), match.group(1)
        if token == "%%":
            return "%%"  # the PREPARE text goes through psycopg2's formatting too, beside the EXECUTE
        if key is None:  # positional: one parameter per placeholder, in order
            key = f"#{len(arguments)}"
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            arguments.append(token)
        return f"${numbers[key]}"

    text = _PLACEHOLDER.sub(number, statement)
    name = "fw_" + hashlib.blake2b(statement.encode(), digest_size=12).hexdigest()
    execute = f"EXECUTE {name}({', '.join(arguments)})" if arguments else f"EXECUTE {name}"
    return Converted(name, f"PREPARE {name} AS {text}", execute)


class _Prepared:
    """The statements prepared on one connection, least recently used first, as of `generation`."""

    def __init__(self) -> None:
        self.names: OrderedDict[str, None] = OrderedDict()
        self.generation = _generation
        self.reset = False  # deallocate them all first: one was found missing
        self.enabled = True  # False: statements run as they are (`plain`)


_lock = threading.Lock()
_connections: weakref.WeakKeyDictionary[Any, _Prepared] = weakref.WeakKeyDictionary()
# Raised when a connection finds its statements out of date: DDL changed them for every connection, so each one
# deallocates all of its statements at its next use (`is_stale`).
_generation = 0


def _state(connection: Any) -> _Prepared:
    with _lock:
        state = _connections.get(connection)
        if state is None:
            state = _connections[connection] = _Prepared()
        return state


def plain(connection: Any) -> None:
    """Run every statement of the psycopg2 `connection` as it is, never prepared: for a pooler that may run each
    transaction on another server connection, where what was prepared is not."""
    _state(connection).enabled = False


def prepared_names(connection: Any) -> list[str]:
    """The names of the statements prepared on the psycopg2 `connection`, least recently used first."""
    return list(_state(connection).names)


Settings = tuple[tuple[str, str], ...]  # (name, value) pairs of run-time settings


def set_locally(settings: Settings) -> list[str]:
    """The `SET LOCAL name = value` statements of `settings`."""
    return [f"SET LOCAL {name} = {value}" for name, value in settings]


def execute(cursor: Any, statement: str, params: Any = None, generic: bool = False, settings: Settings = ()) -> None:
    """Run `statement` with `params` on `cursor` (a psycopg2 cursor or an adbapi transaction) as a prepared
    statement of its connection: prepared first if the connection has not yet, in the same round trip. The
    rows are read from `cursor` as after `cursor.execute`. `SET LOCAL` of each of the `settings`, and with
    `generic` of `plan_cache_mode = force_generic_plan`, go first (same round trip): in a transaction, the caller
    resets them once it has read the rows (in autocommit they end with the statement's implicit transaction)."""
    state = _state(cursor.connection)
    params = params if params is not None else ()  # formatted even when empty: `%%` reads as `%` either way
    ahead = set_locally(settings)
    if not state.enabled:
        cursor.execute("; ".join([*ahead, statement]), params)
        return
    converted = convert(statement)
    names = state.names
    if generic:
        ahead.append("SET LOCAL plan_cache_mode = force_generic_plan")
    if state.reset or state.generation != _generation:
        ahead.append("DEALLOCATE ALL")
        names.clear()
        state.reset, state.generation = False, _generation
    if converted.name in names:
        names.move_to_end(converted.name)
    else:
        if len(names) >= PER_CONNECTION:
            ahead.append(f"DEALLOCATE {names.popitem(last=False)[0]}")
        ahead.append(converted.prepare)
        # counted as prepared from now on, even if the EXECUTE fails: a rollback does not undo a PREPARE (one that
        # failed itself is found missing at the next EXECUTE, and forgotten)
        names[converted.name] = None
    try:
        cursor.execute("; ".join([*ahead, converted.execute]), params)
    except psycopg2.Error as e:
        if e.pgcode == _MISSING_STATEMENT:
            state.reset = True
        elif is_stale(e):
            _outdate()
        raise


def _outdate() -> None:
    """Make every connection deallocate its statements at its next use."""
    global _generation
    with _lock:
        _generation += 1


def is_stale(error: BaseException) -> bool:
    """Whether `error` says a prepared statement of the connection is no longer what was prepared (see the module
    docstring): running the transaction again repairs it."""
    if not isinstance(error, psycopg2.Error):
        return False
    if error.pgcode == _MISSING_STATEMENT:
        return True
    return error.pgcode == _STALE_PLAN[0] and error.diag.source_function == _STALE_PLAN[1]
