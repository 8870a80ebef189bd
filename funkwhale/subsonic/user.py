"""Accounts: getUser (oneself; anyone for an administrator) and getUsers (administrators only)."""

from __future__ import annotations

from typing import Any

from funkwhale.context import Context
from funkwhale.subsonic.browsing import run
from funkwhale.subsonic.errors import NOT_AUTHORIZED, SubsonicError, not_found
from funkwhale.subsonic.registry import Call, endpoint
from funkwhale.subsonic.render import iso
from funkwhale.subsonic.userdata import store


def user(row: dict[str, Any]) -> dict[str, Any]:
    """An account as Subsonic's User: what this server lets every listener do (stream, download, playlists,
    scrobbling, settings, uploads); the administrator role is the superuser flag."""
    return {
        "username": row["username"],
        "email": row["email"],
        "scrobblingEnabled": True,
        "maxBitRate": 0,
        "adminRole": bool(row["is_superuser"]),
        "settingsRole": True,
        "downloadRole": True,
        "uploadRole": True,
        "playlistRole": True,
        "coverArtRole": False,
        "commentRole": False,
        "podcastRole": False,
        "streamRole": True,
        "jukeboxRole": False,
        "shareRole": False,
        "videoConversionRole": False,
        "avatarLastChanged": iso(row["avatar_date"]),
        "folder": row["folders"],
    }


def _require_admin(call: Call) -> None:
    if not call.user.is_superuser:
        raise SubsonicError(NOT_AUTHORIZED, "Only an administrator may see other accounts.")


@endpoint("getUser", scope="read:profile")
async def get_user(ctx: Context, call: Call) -> dict[str, Any]:
    username = call.params.get("username") or call.user.username
    if username.lower() != call.user.username.lower():
        _require_admin(call)
    rows = await run(ctx, store.accounts_txn, username, name="user")
    if not rows:
        raise not_found("No such user.")
    return {"user": user(rows[0])}


@endpoint("getUsers", scope="read:profile")
async def get_users(ctx: Context, call: Call) -> dict[str, Any]:
    _require_admin(call)
    rows = await run(ctx, store.accounts_txn, None, name="users")
    return {"users": {"user": [user(r) for r in rows]}}
