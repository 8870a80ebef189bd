"""Library scans: getScanStatus and startScan (a re-scan of the folders imported in place, as the hourly job
does; administrators and library moderators only), queued as a durable task (music.importer.rescans)."""

from __future__ import annotations

from typing import Any

from funkwhale.context import Context
from funkwhale.music.importer import rescans
from funkwhale.subsonic.registry import Call, endpoint


@endpoint("getScanStatus")
async def get_scan_status(ctx: Context, call: Call) -> dict[str, Any]:
    return {"scanStatus": await rescans.status(ctx)}


@endpoint("startScan", scope="write:instance:libraries")  # the "library" permission (superusers have it)
async def start_scan(ctx: Context, call: Call) -> dict[str, Any]:
    """Queue a scan unless one is queued or running; answers the status."""
    await rescans.request(ctx)
    return {"scanStatus": await rescans.status(ctx)}
