"""Query parameters collected while a statement is built from SQL fragments.

A fragment never carries its own placeholders: it asks the binder it is given for one per value
(`binder.bind(value)` returns the placeholder text and records the value), so a statement assembled from
fragments in any order always matches its parameters. `NamedParams` (a dict, `%(name)s`) suits statements
built from many fragments; `PositionalParams` (a list, `%s`) suits short statements written in order. Both run
the statement built with them as a prepared statement of the connection (`fetchone`, `fetchall`, `fetch_page`:
funkwhale.db.prepared), so a statement run again is not planned again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from funkwhale.db import prepared

T = TypeVar("T")


class Binder(Protocol):
    """Collects the parameters of one statement; `params` is what to pass to `txn.execute`."""

    params: Any

    def bind(self, value: Any) -> str:
        """Record `value` and return the placeholder that stands for it."""
        ...


class Statement:
    """Runs a statement built with these parameters as a prepared statement (funkwhale.db.prepared)."""

    params: Any
    # Run with PostgreSQL's generic plan from the first execution on, where the planner would keep making custom
    # plans for no gain (see funkwhale.music.sql.Fragments.window): `plan_cache_mode` for this statement only.
    generic_plan = False
    # Settings (name, value) in force for this statement only: set locally in its round trip, reset after.
    settings: prepared.Settings = ()

    def fetchone(self, txn: Any, statement: str) -> dict[str, Any] | None:
        """Run `statement` (built with these parameters) and return its first row."""
        return self._fetch(txn, statement, txn.fetchone)

    def fetchall(self, txn: Any, statement: str) -> list[dict[str, Any]]:
        """Run `statement` (built with these parameters) and return its rows."""
        return self._fetch(txn, statement, txn.fetchall)

    def fetch_tuples(self, txn: Any, statement: str) -> list[tuple[Any, ...]]:
        """Run `statement` and return its rows as tuples in column order (funkwhale.db.cursor.fetchall_tuples)."""
        return self._fetch(txn, statement, txn.fetchall_tuples)

    def fetch_page(self, txn: Any, statement: str) -> tuple[int, list[dict[str, Any]]]:
        """Run a page `statement` whose rows carry the count of all matches as `total`: (total, rows); a page
        beyond the end has no rows and a total of 0."""
        rows = self.fetchall(txn, statement)
        return (rows[0]["total"] if rows else 0), rows

    def _fetch(self, txn: Any, statement: str, fetch: Callable[[], T]) -> T:
        prepared.execute(txn, statement, self.params, generic=self.generic_plan, settings=self.settings)
        found = fetch()
        reset = [name for name, _ in self.settings] + (["plan_cache_mode"] if self.generic_plan else [])
        if reset and not txn.connection.autocommit:  # in autocommit, SET LOCAL ended with the statement
            txn.execute("; ".join(f"RESET {name}" for name in reset))
        return found


class NamedParams(Statement):
    """Named parameters (`%(name)s`): values bound without a name get a fresh one; `named` ones start it."""

    def __init__(self, **named: Any) -> None:
        self.params: dict[str, Any] = dict(named)

    def bind(self, value: Any, name: str | None = None) -> str:
        """Record `value` under `name` (a fresh one when None) and return its placeholder."""
        if name is None:
            name = f"_p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"


class PositionalParams(Statement):
    """Positional parameters (`%s`), in the order they are bound: bind while writing the SQL left to right."""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "%s"
