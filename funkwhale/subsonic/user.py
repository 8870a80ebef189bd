"""Accounts: getUser (oneself; anyone with read:instance:users) and getUsers (read:instance:users)."""

from __future__ import annotations

from typing import Any

from funkwhale.context import Context
from funkwhale.subsonic.browsing import run
from funkwhale.subsonic.errors import not_found
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


ACCOUNTS_SCOPE = "read:instance:users"  # other accounts: the "settings" permission (superusers have it)


@endpoint("getUser", scope="read:profile")
async def get_user(ctx: Context, call: Call) -> dict[str, Any]:
    username = call.params.get("username") or call.user.username
    if username.lower() != call.user.username.lower():
        call.require_scope(ACCOUNTS_SCOPE)
    rows = await run(ctx, store.accounts_txn, username, name="user")
    if not rows:
        raise not_found("No such user.")
    return {"user": user(rows[0])}


@endpoint("getUsers", scope=ACCOUNTS_SCOPE)
async def get_users(ctx: Context, call: Call) -> dict[str, Any]:
    rows = await run(ctx, store.accounts_txn, None, name="users")
    return {"users": {"user": [user(r) for r in rows]}}
