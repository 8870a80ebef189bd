"""Rows a statement always returns (a row just written and read back, a SELECT without FROM)."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def required(row: T | None, what: str) -> T:
    """`row`, which cannot be missing here; RuntimeError (a bug, never a client's error) when it is."""
    if row is None:
        raise RuntimeError(f"{what}: the row is missing")
    return row
