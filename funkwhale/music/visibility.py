"""Who may see and play what: one SQL condition every music query shares.

A library is visible to its owner (privacy `me`), to every authenticated local user (`instance`), and to anyone
(`everyone`), and to an actor whose follow of it was approved (a remote library a local user follows, or a local
library a remote actor follows). An upload is playable when its import finished and its library is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from funkwhale.db.params import Binder


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


def privacy_condition(binder: Binder, viewer: Viewer, level: str, owner: str, by_actor: bool = False) -> str:
    """SQL true for a row whose privacy level is the column `level` and whose owner is the column `owner` (a user
    id, or an actor id when `by_actor`): `everyone` shows it to anyone, `instance` to authenticated users, and the
    owner always sees it (`me`). Its parameters are bound through `binder`."""
    authenticated = binder.bind(viewer.authenticated)
    me = binder.bind(viewer.actor_id if by_actor else viewer.user_id)
    return f"({level} = 'everyone' OR ({level} = 'instance' AND {authenticated}) OR {owner} = {me})"


def library_condition(binder: Binder, viewer: Viewer, library: str = "l") -> str:
    """SQL true for a library row `library` the viewer may see: by its privacy, or through an approved follow."""
    shown = privacy_condition(binder, viewer, f"{library}.privacy_level", f"{library}.actor_id", by_actor=True)
    if viewer.actor_id is None:
        return shown
    followed = (
        f"EXISTS (SELECT 1 FROM library_follow lf WHERE lf.target_id = {library}.id"
        f" AND lf.actor_id = {binder.bind(viewer.actor_id)} AND lf.approved)"
    )
    return f"({shown} OR {followed})"


def playable_upload_condition(binder: Binder, viewer: Viewer, upload: str = "u", library: str = "l") -> str:
    """SQL true for an upload row `upload` (joined to its library `library`) the viewer may play. Everything
    built on it (a playable track, album or artist, an entry shown in someone's list) is in funkwhale.music.sql."""
    return f"({upload}.import_status = 'finished' AND {library_condition(binder, viewer, library)})"
