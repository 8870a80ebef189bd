"""ping, getLicense, getOpenSubsonicExtensions."""

from __future__ import annotations

from typing import Any

from funkwhale.context import Context
from funkwhale.subsonic.registry import Call, endpoint

# OpenSubsonic extensions this server implements, with their versions; modules add theirs at import.
EXTENSIONS: dict[str, list[int]] = {"formPost": [1], "apiKeyAuthentication": [1]}


@endpoint("ping")
async def ping(ctx: Context, call: Call) -> dict[str, Any]:
    return {}


@endpoint("getLicense")
async def get_license(ctx: Context, call: Call) -> dict[str, Any]:
    return {"license": {"valid": True, "email": call.user.email, "licenseExpires": "2999-12-31T00:00:00.000Z"}}


@endpoint("getOpenSubsonicExtensions", public=True)
async def get_extensions(ctx: Context, call: Call) -> dict[str, Any]:
    return {"openSubsonicExtensions": [{"name": n, "versions": v} for n, v in sorted(EXTENSIONS.items())]}


@endpoint("tokenInfo")
async def token_info(ctx: Context, call: Call) -> dict[str, Any]:
    """OpenSubsonic apiKeyAuthentication: whose key this is."""
    return {"tokenInfo": {"username": call.user.username}}
