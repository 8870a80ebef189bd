"""/api/v1/rate-limit/: where the caller stands with the login, sign-up and password reset limits (Funkwhale's
RateLimitView shape), keyed on the client address (web/client_address.py) and, once logged in, the account."""

from __future__ import annotations

from typing import Any

from funkwhale.users import ratelimit
from funkwhale.web.area import Area, api_app
from funkwhale.web.client_address import client_address
from funkwhale.web.json import json_response


class RateLimitApi(Area):
    app = api_app()

    @app.route("/", methods=["GET"], strict_slashes=False)
    async def status(self, request: Any) -> bytes:
        principal = await self.auth.optional(request)
        address = client_address(request, self.ctx.settings)
        if principal is None:
            ident: dict[str, Any] = {"type": "anonymous", "id": address}
            keys = ratelimit.login_keys(address, None)
        else:
            ident = {"type": "authenticated", "id": str(principal.user.id)}  # a string in 1.4
            keys = ratelimit.login_keys(address, principal.user.id)
        settings, now = self.ctx.settings, self.ctx.clock.seconds()
        login = await ratelimit.standing(self.ctx.redis, keys)
        signup = await ratelimit.standing(self.ctx.redis, ratelimit.signup_keys(address), ratelimit.SIGNUP.window)
        resets = [
            ratelimit.describe(
                limit,
                ratelimit.RESET_RATE,
                await ratelimit.standing(self.ctx.redis, [ratelimit.address_key(address, limit)]),
                now,
            )
            for limit in (ratelimit.PASSWORD_RESET, ratelimit.PASSWORD_RESET_CONFIRM)
        ]
        unused = ratelimit.Standing(0, None)
        scopes = [
            ratelimit.describe(ratelimit.LOGIN, settings.login_rate_limit, login, now),
            ratelimit.describe(ratelimit.SIGNUP, settings.signup_rate_limit, signup, now),
            *resets,
            *(ratelimit.describe(limit, rate, unused, now) for limit, rate in ratelimit.UNCOUNTED),
        ]
        scopes.sort(key=lambda scope: scope["id"])
        return json_response(request, {"enabled": True, "ident": ident, "scopes": scopes})
