"""Funkwhale's OAuth scopes (users/oauth/scopes.py upstream): "read" and "write", each the umbrella of
"<mode>:<area>" for every area, written space separated. The "instance:*" areas are an administrator's: a
token or session only uses them when its user holds the permission that comes with them."""

from __future__ import annotations

from collections.abc import Iterable

MODES = ("read", "write")
USER_AREAS = (
    "profile", "libraries", "favorites", "listenings", "follows", "playlists", "radios",
    "filters", "notifications", "edits", "security", "reports", "plugins",
)  # fmt: skip
# Funkwhale's PERMISSIONS_CONFIGURATION: which user permission opens which instance areas.
PERMISSION_AREAS = {
    "settings": ("instance:settings", "instance:users", "instance:invitations"),
    "library": ("instance:edits", "instance:libraries"),
    "moderation": (
        "instance:accounts", "instance:domains", "instance:policies", "instance:reports", "instance:requests",
        "instance:notes",
    ),
}  # fmt: skip
INSTANCE_AREAS = tuple(area for areas in PERMISSION_AREAS.values() for area in areas)

USER_SCOPES = frozenset(f"{mode}:{area}" for mode in MODES for area in USER_AREAS)
LEAF_SCOPES = USER_SCOPES | {f"{mode}:{area}" for mode in MODES for area in INSTANCE_AREAS}
ALL_SCOPES = LEAF_SCOPES | set(MODES)
# The permission each instance scope needs ("read:instance:settings" -> "settings").
PERMISSION_OF = {f"{mode}:{area}": name for name, areas in PERMISSION_AREAS.items() for area in areas for mode in MODES}


def parse(text: str) -> list[str]:
    """The scopes of a space (or comma) separated string, in order, without repeats."""
    return list(dict.fromkeys(text.replace(",", " ").split()))


def unknown(scopes: Iterable[str]) -> list[str]:
    return [s for s in scopes if s not in ALL_SCOPES]


def expand(scopes: Iterable[str]) -> frozenset[str]:
    """The leaf scopes ("read:profile", ...) that `scopes` grant: "read"/"write" stand for all of their mode."""
    leaves: set[str] = set()
    for scope in scopes:
        if scope in MODES:
            leaves.update(s for s in LEAF_SCOPES if s.startswith(scope + ":"))
        elif scope in LEAF_SCOPES:
            leaves.add(scope)
    return frozenset(leaves)


def covers(granted: Iterable[str], scope: str) -> bool:
    """Whether `scope` is a known scope and `granted` includes all of it (itself, or through "read"/"write")."""
    return scope in ALL_SCOPES and expand([scope]) <= expand(granted)


def join(scopes: Iterable[str]) -> str:
    return " ".join(scopes)
