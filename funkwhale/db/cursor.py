"""The cursor every connection uses: rows as plain dicts keyed by column name.

psycopg2's RealDictCursor builds each row through a Python-level `__setitem__` per column, a third of the
client's cost of a page of 50 tracks; `dict(zip(names, row))` builds the same dict in C (without zip's `strict`
check, a third of that cost: a row has as many values as the description has names).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2.extensions


class DictCursor(psycopg2.extensions.cursor):
    """A cursor whose fetch methods and iteration return `dict` rows (column name → value)."""

    def _names(self) -> list[str]:
        return [column.name for column in self.description or ()]

    def fetchone(self) -> dict[str, Any] | None:  # type: ignore[override]
        row = super().fetchone()
        return None if row is None else dict(zip(self._names(), row, strict=False))

    def fetchmany(self, size: int | None = None) -> list[dict[str, Any]]:  # type: ignore[override]
        rows = super().fetchmany(self.arraysize if size is None else size)
        return self._dicts(rows)

    def fetchall(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self._dicts(super().fetchall())

    def __iter__(self) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        names = None
        for row in super().__iter__():
            names = names or self._names()
            yield dict(zip(names, row, strict=False))

    def fetchall_tuples(self) -> list[tuple[Any, ...]]:
        """The remaining rows as psycopg2 reads them (tuples in column order): no dict per row, for the few
        hot statements that read hundreds of rows by position (a Subsonic sync page)."""
        return super().fetchall()

    def _dicts(self, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        if not rows:
            return []
        names = self._names()
        return [dict(zip(names, row, strict=False)) for row in rows]
