"""/api/v1/rate-limit/: where the caller stands with the login limit (Funkwhale's RateLimitView shape);
and the client address every limit is keyed on."""

from __future__ import annotations

from typing import Any

from klein import Klein

from funkwhale.context import Context
from funkwhale.users import ratelimit
from funkwhale.web.auth import Auth
from funkwhale.web.errors import install_api_errors
from funkwhale.web.json import json_response


class RateLimitApi:
    app = Klein()
    install_api_errors(app)

    def __init__(self, ctx: Context, auth: Auth) -> None:
        self.ctx = ctx
        self.auth = auth

    @app.route("/", methods=["GET"], strict_slashes=False)
    async def status(self, request: Any) -> bytes:
        principal = await self.auth.optional(request)
        address = ratelimit.client_address(request, self.ctx.settings)
        if principal is None:
            ident: dict[str, Any] = {"type": "anonymous", "id": address}
            keys = ratelimit.login_keys(address, None)
        else:
            ident = {"type": "authenticated", "id": principal.user.id}
            keys = ratelimit.login_keys(address, principal.user.id)
        standing = await ratelimit.standing(self.ctx.redis, keys)
        scope = ratelimit.describe(standing, self.ctx.settings.login_rate_limit, self.ctx.clock.seconds())
        return json_response(request, {"enabled": True, "ident": ident, "scopes": [scope]})
