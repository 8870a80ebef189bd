"""Per-user storage quota, in MB (10^6 bytes) as Funkwhale counts it.

A user's quota is `users.upload_quota`, else the instance preference `users__upload_quota` (whose default is
FUNKWHALE_DEFAULT_UPLOAD_QUOTA). What counts against it: the sizes of the user's uploads, except errored ones.
"""

from __future__ import annotations

from typing import Any

from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.music.uploads.store import usage_of_user_txn

MB = 1000 * 1000
COUNTED = ("draft", "pending", "finished", "skipped")
# The error code of an upload refused for the quota (the body's `code`, as Funkwhale names it).
QUOTA_REACHED = "upload_quota_reached"


class QuotaReached(Exception):
    """The file would take the user over their quota."""


async def default_mb(ctx: Context) -> int:
    """The instance's default quota in MB."""
    return int(await instance_settings.get(ctx, "users__upload_quota"))


def effective_mb(override: int | None, default: int) -> int:
    return default if override is None else override


def used_bytes(usage: dict[str, int]) -> int:
    return sum(usage[status] for status in COUNTED)


def check(quota_mb: int, usage: dict[str, int], size: int) -> None:
    """QuotaReached when `size` more bytes would not fit."""
    if used_bytes(usage) + size > quota_mb * MB:
        raise QuotaReached()


def status_body(quota_mb: int, usage: dict[str, int]) -> dict[str, Any]:
    """Funkwhale's quota_status: max, remaining, current and per-status usage, all in MB."""
    current = used_bytes(usage) / MB
    return {
        "max": quota_mb,
        "remaining": max(quota_mb - current, 0),
        "current": current,
        **{status: usage[status] / MB for status in ("draft", "skipped", "pending", "finished", "errored")},
    }


async def _quota_and_usage(ctx: Context, user_id: int) -> tuple[int, dict[str, int]]:
    user, usage = await ctx.db.run(usage_of_user_txn, user_id, desc="uploads.quota_status")
    return effective_mb(user["upload_quota"] if user else None, await default_mb(ctx)), usage


async def quota_status(ctx: Context, user_id: int) -> dict[str, Any]:
    """The quota status of a user (as `GET /api/v1/users/me/` shows it)."""
    return status_body(*await _quota_and_usage(ctx, user_id))


async def remaining_bytes(ctx: Context, user_id: int) -> int:
    """How many more bytes of files the user may upload."""
    quota_mb, usage = await _quota_and_usage(ctx, user_id)
    return max(quota_mb * MB - used_bytes(usage), 0)
