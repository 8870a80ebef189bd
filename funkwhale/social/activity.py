"""Favorites and listenings as every surface writes them (the REST API one at a time, Subsonic's star and
scrobble in bulk): only tracks the listener may play, all or nothing, each row marked with its `source`."""

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


def favorite_txn(txn: Any, viewer: Viewer, track_ids: list[int], source: str) -> None:
    """Favorite every track (one statement; one already a favorite stays as it was)."""
    _all_written(track_ids, store.add_favorites_txn(txn, viewer, track_ids, source))


def unfavorite_txn(txn: Any, viewer: Viewer, track_ids: list[int]) -> None:
    """Unfavorite the tracks; those that were not favorites are ignored."""
    store.remove_favorites_txn(txn, viewer, track_ids)


def listen_txn(txn: Any, viewer: Viewer, plays: list[tuple[int, datetime | None]], source: str) -> None:
    """Record listenings of (track, when; None for now), one statement."""
    _all_written([track for track, _ in plays], store.add_listenings_txn(txn, viewer, plays, source))
