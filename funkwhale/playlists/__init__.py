"""Playlists: a user's ordered lists of tracks, seen by others according to their privacy level.

Positions (`playlist_track.index`) are always exactly 0..n-1: every write locks the playlist row first and
computes positions inside that transaction, so concurrent edits queue up instead of racing.
"""

from __future__ import annotations

from typing import Any

from funkwhale.errors import Invalid, kind_of_status
from funkwhale.params import to_int
from funkwhale.playlists import formats

PRIVACY_LEVELS = ("me", "instance", "everyone")
ORDERINGS = {
    "name": "lower(pls.name)",
    "creation_date": "pls.creation_date",
    "modification_date": "pls.modification_date",
}
DEFAULT_ORDERING = ("-creation_date",)
ALBUM_COVERS = 4  # covers shown for a playlist, from its first tracks' distinct albums


class PlaylistError(Invalid):
    """Invalid as store.py spells it: a refusal of the given HTTP status, `detail` also the message of `field`
    when it names one."""

    def __init__(self, status: int, detail: str, code: str = "invalid", field: str | None = None) -> None:
        super().__init__(detail, fields={field: [detail]} if field else None, code=code, kind=kind_of_status(status))


def clean_changes(body: dict[str, Any], partial: bool) -> dict[str, str]:
    """Validated `name` / `privacy_level` from a create or update body (all required unless `partial`)."""
    changes: dict[str, str] = {}
    if "name" in body or not partial:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise Invalid.field("name", "This field is required.")
        if len(name.strip()) > 100:
            raise Invalid.field("name", "Ensure this field has no more than 100 characters.")
        changes["name"] = name.strip()
    if "privacy_level" in body:
        level = body["privacy_level"]
        if level not in PRIVACY_LEVELS:
            raise Invalid.field("privacy_level", f'"{level}" is not a valid choice.')
        changes["privacy_level"] = level
    return changes


def track_ids(value: Any) -> list[int]:
    """The `tracks` to add: one id or a non-empty list of them."""
    if not isinstance(value, list):
        value = [value] if value not in (None, "") else []
    if not value:
        raise Invalid.field("tracks", "This list may not be empty.")
    return [to_int(v, "tracks", "Enter a list of numbers.") for v in value]


def allow_duplicates(body: dict[str, Any]) -> bool:
    """`allow_duplicates` (default true) as a boolean, from JSON or form-style text."""
    value = body.get("allow_duplicates", True)
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes", "on")


def index(body: dict[str, Any], name: str) -> int:
    """A required position field (`index`, `from`, `to`); its range is checked against the playlist later."""
    if name not in body:
        raise Invalid.field(name, "This field is required.")
    return to_int(body[name], name)


def read_file(content: str, fmt: str | None) -> list[tuple[str | None, str]]:
    """The (artist, title) entries of an imported M3U or XSPF file; Invalid (`content`) when it names none."""
    wanted = formats.parse(content, fmt)
    if not wanted:
        raise Invalid.field("content", "The file names no tracks.")
    return wanted
