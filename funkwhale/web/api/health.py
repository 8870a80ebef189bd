"""GET /api/v1/health/: whether PostgreSQL and Redis answer (200 when both do, else 503)."""

from __future__ import annotations

from typing import Any

from klein import Klein
from twisted.internet.defer import TimeoutError as DeferredTimeout

from funkwhale.context import Context
from funkwhale.db.pool import ping
from funkwhale.web.auth import Auth
from funkwhale.web.errors import install_api_errors
from funkwhale.web.json import json_response


class HealthApi:
    app = Klein()
    install_api_errors(app)

    def __init__(self, ctx: Context, auth: Auth) -> None:
        self.ctx = ctx

    async def _check(self, probe: Any) -> bool:
        try:
            d = probe()
            d.addTimeout(3, self.ctx.clock)
            return bool(await d)
        except (Exception, DeferredTimeout):
            return False

    @app.route("/", methods=["GET", "HEAD"])
    async def health(self, request: Any) -> bytes:
        from twisted.internet.defer import Deferred

        postgres = await self._check(
            lambda: Deferred.fromCoroutine(ping(self.ctx.db))
        )
        redis = await self._check(lambda: Deferred.fromCoroutine(self.ctx.redis.ping()))
        ok = postgres and redis
        body = {"status": "ok" if ok else "unavailable", "postgres": postgres, "redis": redis}
        return json_response(request, body, status=200 if ok else 503)
