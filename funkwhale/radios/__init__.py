"""Radios: endless listening sessions drawn from a pool of tracks.

A session has a type: a built-in pool (`random`, `favorites`, `less-listened`, `tag`, `artist`, `library`) or a
user's `custom` radio, whose `config` is a list of filters ANDed together (`"not": true` negates one). Each next
track is drawn at random among the pool's playable tracks this session has not played yet; once every track was
played the session answers 404 "No more tracks" (start a new session to listen again).
"""

from __future__ import annotations

from typing import Any, TypeGuard

from funkwhale.errors import Invalid, kind_of_status
from funkwhale.params import to_int

RADIO_TYPES = ("random", "favorites", "less-listened", "tag", "artist", "library", "custom")
RELATED_TYPES = ("tag", "artist", "library")  # the types that need a `related_object_id`

# Filter type -> (the key listing what it names, label, help text).
FILTERS: dict[str, tuple[str, str, str]] = {
    "tag": ("names", "Tag", "Tracks tagged with one of these tags (or whose album or artist is)."),
    "artist": ("ids", "Artist", "Tracks by one of these artists."),
    "library": ("uuids", "Library", "Tracks with a playable upload in one of these libraries."),
}

# Filter type -> how a client edits its list (Funkwhale's filter form: value type, where to look values up).
FILTER_FIELDS: dict[str, dict[str, Any]] = {
    "tag": {
        "type": "list",
        "subtype": "string",
        "autocomplete": "/api/v1/search",
        "autocomplete_qs": "q={query}",
        "autocomplete_fields": {"remoteValues": "tags", "name": "name", "value": "name"},
        "label": "Tags",
        "placeholder": "Select tags",
    },
    "artist": {
        "type": "list",
        "subtype": "number",
        "autocomplete": "/api/v1/search",
        "autocomplete_qs": "q={query}",
        "autocomplete_fields": {"remoteValues": "artists", "name": "name", "value": "id"},
        "label": "Artist",
        "placeholder": "Select artists",
    },
    "library": {
        "type": "list",
        "subtype": "string",
        "autocomplete": "/api/v1/libraries/",
        "autocomplete_qs": "scope=all&q={query}",
        "autocomplete_fields": {"remoteValues": "results", "name": "name", "value": "uuid"},
        "label": "Libraries",
        "placeholder": "Select libraries",
    },
}


class RadioError(Invalid):
    """Invalid as store.py spells it: `detail` about `field` (if any), or a refusal of the given HTTP status."""

    def __init__(self, detail: str, status: int = 400, field: str | None = None) -> None:
        if field:
            super().__init__(fields={field: [detail]})
        else:
            super().__init__(detail, kind=kind_of_status(status))


def is_id(value: Any) -> TypeGuard[int]:
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


def clean_radio(body: dict[str, Any], partial: bool) -> dict[str, Any]:
    """The custom radio columns a create/update sets (name, description, is_public, config), checked for shape;
    Invalid naming the first bad one. `partial` (PATCH): absent fields stay unchanged."""
    fields: dict[str, Any] = {}
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
            raise Invalid.field("name", "Give the radio a name (at most 100 characters).")
        fields["name"] = name.strip()
    if "description" in body:
        if not isinstance(body["description"], str):
            raise Invalid.field("description", "Not a valid string.")
        fields["description"] = body["description"]
    if "is_public" in body:
        if not isinstance(body["is_public"], bool):
            raise Invalid.field("is_public", "Must be a valid boolean.")
        fields["is_public"] = body["is_public"]
    if "config" in body or not partial:
        fields["config"] = clean_config(body.get("config"))
    return fields


def clean_session(body: dict[str, Any]) -> dict[str, Any]:
    """A new session's radio_type, with the related_object_id (an artist id, a tag name or a library uuid, not
    yet checked against the database) or custom_radio id its type needs; Invalid naming the first bad field."""
    kind = body.get("radio_type")
    if kind not in RADIO_TYPES:
        raise Invalid.field("radio_type", f'"{kind}" is not a valid choice.')
    fields: dict[str, Any] = {"radio_type": kind}
    if kind in RELATED_TYPES:
        related = body.get("related_object_id")
        if related in (None, ""):
            raise Invalid.field("related_object_id", "This radio needs a related object.")
        fields["related_object_id"] = _artist_id(related) if kind == "artist" else str(related)
    if kind == "custom":
        fields["custom_radio"] = _id_field(body, "custom_radio", "A custom radio id is required.")
    return fields


def _artist_id(raw: Any) -> int:
    value = to_int(raw, "related_object_id", "An artist id is a number.")
    if not is_id(value):
        raise Invalid.field("related_object_id", "An artist id is a number.")
    return value


def session_id(body: dict[str, Any]) -> int:
    """The `session` a next-track request names; Invalid unless it is an id."""
    return _id_field(body, "session", "A session id is required.")


def _id_field(body: dict[str, Any], name: str, message: str) -> int:
    """A body field holding an id: a JSON number or a form's digits; Invalid(`message`) otherwise."""
    raw = body.get(name)
    value = to_int(raw, name, message) if isinstance(raw, str) and raw.strip() else raw
    if not is_id(value):
        raise Invalid.field(name, message)
    return value
