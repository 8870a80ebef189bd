"""Funkwhale's OAuth scopes: "read", "write", or "<read|write>:<area>", written space separated."""

from __future__ import annotations

from collections.abc import Iterable

from funkwhale.users.models import ALL_SCOPES


def parse(text: str) -> list[str]:
    """The scopes of a space (or comma) separated string, in order, without repeats."""
    return list(dict.fromkeys(text.replace(",", " ").split()))


def unknown(scopes: Iterable[str]) -> list[str]:
    return [s for s in scopes if s not in ALL_SCOPES]


def covers(granted: Iterable[str], scope: str) -> bool:
    """Whether `granted` includes `scope`, itself or through the bare "read"/"write" of its mode."""
    granted = set(granted)
    return scope in granted or scope.split(":", 1)[0] in granted


def join(scopes: Iterable[str]) -> str:
    return " ".join(scopes)
