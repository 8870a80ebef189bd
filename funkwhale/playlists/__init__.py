"""Playlists: a user's ordered lists of tracks, seen by others according to their privacy level.

Positions (`playlist_track.index`) are always exactly 0..n-1: every write locks the playlist row first and
computes positions inside that transaction, so concurrent edits queue up instead of racing.
"""

from __future__ import annotations

PRIVACY_LEVELS = ("me", "instance", "everyone")
ORDERINGS = {
    "name": "lower(pls.name)",
    "creation_date": "pls.creation_date",
    "modification_date": "pls.modification_date",
}
DEFAULT_ORDERING = ("-creation_date",)
ALBUM_COVERS = 4  # covers shown for a playlist, from its first tracks' distinct albums


class PlaylistError(Exception):
    """A refused playlist change; nothing was written. `field` names the offending input, if any."""

    def __init__(self, status: int, detail: str, code: str = "invalid", field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.field = field
