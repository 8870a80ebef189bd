"""Favorites and listenings as every surface writes them (the REST API one at a time, Subsonic's star and
scrobble in bulk): only tracks the listener may play, all or nothing, Subsonic's rows marked with their `source`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from funkwhale.errors import Invalid
from funkwhale.music.visibility import Viewer
from funkwhale.social import store


def _all_written(wanted: list[int], written: list[int]) -> None:
    """Invalid (does_not_exist, rolling the transaction back) naming the wanted tracks that were not written."""
    missing = sorted(set(wanted) - set(written))
    if missing:
        names = ", ".join(map(str, missing))
        raise Invalid.field("tracks", f"Unknown or unplayable tracks: {names}.", code="does_not_exist")


def record_txn(txn: Any, viewer: Viewer, kind: str, track_id: int) -> dict[str, Any]:
    """One favorite (`kind` "favorites"; again is fine) or listening ("listenings") of a track, as the REST API
    adds them: {id, track, creation_date}; Invalid (`track`) unless the viewer may play it."""
    add_txn = store.add_favorite_txn if kind == "favorites" else store.add_listening_txn
    row = add_txn(txn, viewer, track_id)
    if row is None:
        raise Invalid.field("track", f'Invalid pk "{track_id}" - object does not exist.')
    return row


def favorite_txn(txn: Any, viewer: Viewer, track_ids: list[int], source: str) -> None:
    """Favorite every track (one statement; one already a favorite stays as it was)."""
    _all_written(track_ids, store.add_favorites_txn(txn, viewer, track_ids, source))


def unfavorite_txn(txn: Any, viewer: Viewer, track_ids: list[int]) -> None:
    """Unfavorite the tracks; those that were not favorites are ignored."""
    store.remove_favorites_txn(txn, viewer, track_ids)


def listen_txn(txn: Any, viewer: Viewer, plays: list[tuple[int, datetime | None]], source: str) -> None:
    """Record listenings of (track, when; None for now), one statement."""
    _all_written([track for track, _ in plays], store.add_listenings_txn(txn, viewer, plays, source))
