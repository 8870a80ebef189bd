"""Account values as the rest of the code sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from funkwhale.users.oauth.scopes import LEAF_SCOPES, PERMISSION_OF


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

    def has_permission(self, name: str) -> bool:
        """Funkwhale's user permissions ("settings", "library", "moderation"): a superuser has them all."""
        return self.is_superuser or bool(getattr(self, f"permission_{name}"))

    def may_use(self, scope: str) -> bool:
        """Whether the account's permissions open `scope` (only "instance:*" scopes need one)."""
        permission = PERMISSION_OF.get(scope)
        return permission is None or self.has_permission(permission)


@dataclass(frozen=True)
class Principal:
    """Who makes a request and how: the user, the leaf scopes its credential grants (a session or a Subsonic
    password: all of them; a token: its own, see scopes.expand), and whether a session (so CSRF) is in play."""

    user: User
    scopes: frozenset[str] = LEAF_SCOPES
    via_session: bool = False
    application_id: int | None = None
    expires: datetime | None = field(default=None, compare=False)  # when the credential ends (None: no end)

    def allows(self, scope: str) -> bool:
        """`scope` like "read:profile" is granted, and the user's permissions open it."""
        return scope in self.scopes and self.user.may_use(scope)

    def holds(self, scopes: frozenset[str]) -> bool:
        """Whether the credential grants every one of these leaf scopes (what it may hand on to another)."""
        return scopes <= self.scopes
