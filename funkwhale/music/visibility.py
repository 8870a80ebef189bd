"""Who may see and play what: one SQL condition every music query shares.

A library is visible to its owner (privacy `me`), to every authenticated local user (`instance`), and to anyone
(`everyone`). An upload is playable when its import finished and its library is visible. Federation (followed
remote libraries) extends `library_condition` when it lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Viewer:
    """The caller as the music queries see them; anonymous callers have no ids."""

    user_id: int | None = None
    actor_id: int | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @classmethod
    def of(cls, principal: Any) -> Viewer:
        """From a funkwhale.users.models.Principal (or None for an anonymous caller)."""
        if principal is None:
            return cls()
        return cls(user_id=principal.user.id, actor_id=principal.user.actor_id)


def privacy_condition(viewer: Viewer, level: str, owner: str, by_actor: bool = False) -> tuple[str, list[Any]]:
    """SQL (with %s parameters) true for a row whose privacy level is the column `level` and whose owner is the
    column `owner` (a user id, or an actor id when `by_actor`): `everyone` shows it to anyone, `instance` to
    authenticated users, and the owner always sees it (`me`)."""
    sql = f"({level} = 'everyone' OR ({level} = 'instance' AND %s) OR {owner} = %s)"
    return sql, [viewer.authenticated, viewer.actor_id if by_actor else viewer.user_id]


def library_condition(viewer: Viewer, library: str = "l") -> tuple[str, list[Any]]:
    """SQL (with %s parameters) true for a library row `library` the viewer may see."""
    return privacy_condition(viewer, f"{library}.privacy_level", f"{library}.actor_id", by_actor=True)


def playable_upload_condition(viewer: Viewer, upload: str = "u", library: str = "l") -> tuple[str, list[Any]]:
    """SQL true for an upload row `upload` (joined to its library `library`) the viewer may play."""
    visible, params = library_condition(viewer, library)
    return f"({upload}.import_status = 'finished' AND {visible})", params


def playable_track_exists(viewer: Viewer, track_column: str = "t.id") -> tuple[str, list[Any]]:
    """SQL `EXISTS (...)` true when the viewer may play at least one upload of the track `track_column`."""
    condition, params = playable_upload_condition(viewer, "pu", "pl")
    return (
        f"EXISTS (SELECT 1 FROM upload pu JOIN library pl ON pl.id = pu.library_id"
        f" WHERE pu.track_id = {track_column} AND {condition})",
        params,
    )


def entry_shown(viewer: Viewer, owner_column: str, track_column: str) -> tuple[str, list[Any]]:
    """SQL true for an entry of a user's track list (a favorite, a listen, a playlist entry) the viewer may see:
    its owner (the user `owner_column`) sees every entry, anyone else only those whose track `track_column` they
    may play, so another user's private music never shows through someone's list."""
    playable, params = playable_track_exists(viewer, track_column)
    return f"({owner_column} = %s OR {playable})", [viewer.user_id, *params]


def artist_not_filtered(viewer: Viewer, artist_column: str) -> tuple[str, list[Any]]:
    """SQL true unless the viewer hid the artist `artist_column` with a content filter (`user_filter`)."""
    return (
        f"NOT EXISTS (SELECT 1 FROM user_filter uf WHERE uf.user_id = %s AND uf.target_artist_id = {artist_column})",
        [viewer.user_id],
    )
