"""Query parameters collected while a statement is built from SQL fragments.

A fragment never carries its own placeholders: it asks the binder it is given for one per value
(`binder.bind(value)` returns the placeholder text and records the value), so a statement assembled from
fragments in any order always matches its parameters. `NamedParams` (a dict, `%(name)s`) suits statements
built from many fragments; `PositionalParams` (a list, `%s`) suits short statements written in order.
"""

from __future__ import annotations

from typing import Any, Protocol


class Binder(Protocol):
    """Collects the parameters of one statement; `params` is what to pass to `txn.execute`."""

    params: Any

    def bind(self, value: Any) -> str:
        """Record `value` and return the placeholder that stands for it."""
        ...


class NamedParams:
    """Named parameters (`%(name)s`): values bound without a name get a fresh one; `named` ones start it."""

    def __init__(self, **named: Any) -> None:
        self.params: dict[str, Any] = dict(named)

    def bind(self, value: Any, name: str | None = None) -> str:
        """Record `value` under `name` (a fresh one when None) and return its placeholder."""
        if name is None:
            name = f"_p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"


class PositionalParams:
    """Positional parameters (`%s`), in the order they are bound: bind while writing the SQL left to right."""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "%s"
