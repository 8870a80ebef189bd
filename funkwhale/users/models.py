"""Account values as the rest of the code sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Funkwhale's OAuth scopes: read/write for each area (users/oauth/scopes.py upstream).
SCOPE_AREAS = (
    "profile", "libraries", "favorites", "listenings", "follows", "playlists", "radios",
    "filters", "notifications", "edits", "security", "reports",
)
ALL_SCOPES = frozenset(
    ["read", "write"] + [f"{mode}:{area}" for mode in ("read", "write") for area in SCOPE_AREAS]
)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    name: str = ""
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    permission_library: bool = False
    permission_moderation: bool = False
    permission_settings: bool = False
    privacy_level: str = "instance"
    upload_quota: int | None = None
    actor_id: int | None = None
    date_joined: datetime | None = None
    last_login: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> User:
        names = cls.__dataclass_fields__.keys() - {"extra"}
        return cls(**{k: row[k] for k in names if k in row})


@dataclass(frozen=True)
class Principal:
    """Who makes a request and how: the user, the scopes granted, and whether a session (so CSRF) is in play."""

    user: User
    scopes: frozenset[str] = ALL_SCOPES
    via_session: bool = False
    application_id: int | None = None

    def allows(self, scope: str) -> bool:
        """`scope` like "read:profile": granted by itself or by the bare "read"/"write"."""
        mode = scope.split(":", 1)[0]
        return scope in self.scopes or mode in self.scopes
