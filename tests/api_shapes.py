"""Compare the shape of a JSON answer with a captured one: keys, nesting and JSON types, values aside.

    shape_differences(captured, ours) -> ["$.results[].track.album: missing keys ['cover']", ...]

The captured document is first folded into a per-path signature, list elements sharing the path `[]` so that
every captured element counts: the JSON types seen at each path, and for objects the keys every one of them has
(required) and the keys any of them has (allowed). `null` is allowed only where the capture has it (or where the
caller says the OpenAPI schema does); where the capture only ever has `null`, any type is accepted (Funkwhale
did not show what it sends otherwise); under a list the capture left empty nothing is compared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass
class Seen:
    """What the capture has at one path."""

    types: set[str] = field(default_factory=set)
    required: set[str] | None = None  # keys of every object seen there
    allowed: set[str] = field(default_factory=set)  # keys of any object seen there


def signature(doc: Any, opaque: set[str]) -> dict[str, Seen]:
    sig: dict[str, Seen] = {}

    def walk(value: Any, path: str) -> None:
        seen = sig.setdefault(path, Seen())
        seen.types.add(json_type(value))
        if isinstance(value, dict):
            seen.required = set(value) if seen.required is None else seen.required & set(value)
            seen.allowed |= set(value)
            for key, item in value.items():
                if key in opaque:
                    sig.setdefault(f"{path}.{key}", Seen()).types.add(json_type(item))
                else:
                    walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{path}[]")

    walk(doc, "$")
    return sig


def shape_differences(
    captured: Any, ours: Any, nullable: Iterable[str] = (), opaque: Iterable[str] = (), additions: Iterable[str] = ()
) -> list[str]:
    """Every path where `ours` differs in shape from `captured`, one message per difference. `nullable`: more
    paths where null is allowed; `opaque`: keys whose values are free-form (only their type is compared);
    `additions`: keys ours may have beyond Funkwhale's (a protocol's own additions)."""
    free, added = set(opaque), set(additions)
    sig = signature(captured, free)
    extra_null = set(nullable)
    problems: list[str] = []

    def walk(value: Any, path: str, descend: bool = True) -> None:
        seen = sig.get(path)
        if seen is None:
            return
        kind = json_type(value)
        if seen.types != {"null"} and kind not in seen.types and not (kind == "null" and path in extra_null):
            problems.append(f"{path}: {kind}, Funkwhale has {' or '.join(sorted(seen.types))}")
            return
        if not descend:
            return
        if isinstance(value, dict) and seen.required is not None:
            missing, extra = sorted(seen.required - set(value)), sorted(set(value) - seen.allowed - added)
            if missing:
                problems.append(f"{path}: missing keys {missing}")
            if extra:
                problems.append(f"{path}: extra keys {extra}")
            for key, item in value.items():
                walk(item, f"{path}.{key}", descend=key not in free)
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{path}[]")

    walk(ours, "$")
    return sorted(set(problems))
