"""Radios: endless listening sessions drawn from a pool of tracks.

A session has a type: a built-in pool (`random`, `favorites`, `less-listened`, `tag`, `artist`, `library`) or a
user's `custom` radio, whose `config` is a list of filters ANDed together (`"not": true` negates one). Each next
track is drawn at random among the pool's playable tracks this session has not played yet; once every track was
played the session answers 404 "No more tracks" (start a new session to listen again).
"""

from __future__ import annotations

from typing import Any

RADIO_TYPES = ("random", "favorites", "less-listened", "tag", "artist", "library", "custom")
RELATED_TYPES = ("tag", "artist", "library")  # the types that need a `related_object_id`

# Filter type -> (the key listing what it names, label, help text).
FILTERS: dict[str, tuple[str, str, str]] = {
    "tag": ("names", "Tag", "Tracks tagged with one of these tags (or whose album or artist is)."),
    "artist": ("ids", "Artist", "Tracks by one of these artists."),
    "library": ("uuids", "Library", "Tracks with a playable upload in one of these libraries."),
}


class RadioError(Exception):
    """A refused radio request; nothing was written. `field` names the offending input, if any."""

    def __init__(self, detail: str, status: int = 400, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field


def is_id(value: Any) -> bool:
    """True for a database id (a positive integer that fits a bigint)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def clean_config(config: Any) -> list[dict[str, Any]]:
    """A custom radio's filters, checked for shape (what they name is checked against the database later)."""
    if not isinstance(config, list):
        raise RadioError("Expected a list of filters.", field="config")
    cleaned = []
    for f in config:
        if not isinstance(f, dict) or f.get("type") not in FILTERS:
            raise RadioError(f"Unknown filter type; choose among {', '.join(FILTERS)}.", field="config")
        key = FILTERS[f["type"]][0]
        values = f.get(key)
        if not isinstance(values, list) or not values:
            raise RadioError(f'A "{f["type"]}" filter needs a non-empty "{key}" list.', field="config")
        if key == "ids" and not all(is_id(v) for v in values):
            raise RadioError(f'"{key}" must list integers.', field="config")
        if key != "ids" and not all(isinstance(v, str) and v for v in values):
            raise RadioError(f'"{key}" must list strings.', field="config")
        cleaned.append({"type": f["type"], key: values, **({"not": True} if f.get("not") else {})})
    return cleaned
