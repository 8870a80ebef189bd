"""GET /api/v1/health/: whether PostgreSQL and Redis answer (200 when both do, else 503). A dependency that does
not answer is logged with the reason (its error, or no answer within PROBE_TIMEOUT). While the daemon is still
starting (its listener is bound first), 503 with the status "starting"."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.logger import Logger

from funkwhale.db.pool import ping
from funkwhale.web.area import Area, api_app
from funkwhale.web.json import json_response

log = Logger()
PROBE_TIMEOUT = 3  # seconds a dependency has to answer


class HealthApi(Area):
    app = api_app()

    async def _check(self, dependency: str, probe: Any) -> bool:
        """Whether `probe()` (a coroutine function) answers truthfully in time; why not, in the log."""
        try:
            answered = bool(await Deferred.fromCoroutine(probe()).addTimeout(PROBE_TIMEOUT, self.ctx.clock))
        except DeferredTimeout:
            reason = f"no answer within {PROBE_TIMEOUT} s"
        except Exception as e:
            reason = f"{type(e).__name__}: {e}"
        else:
            if answered:
                return True
            reason = "it answered, but not as expected"
        log.warn("health: {dependency} is unavailable: {reason}", dependency=dependency, reason=reason)
        return False

    @app.route("/", methods=["GET", "HEAD"])
    async def health(self, request: Any) -> bytes:
        if not request.site.ready:
            return json_response(request, {"status": "starting"}, status=503)
        postgres = await self._check("postgres", lambda: ping(self.ctx.db))
        redis = await self._check("redis", self.ctx.redis.ping)
        ok = postgres and redis
        body = {"status": "ok" if ok else "unavailable", "postgres": postgres, "redis": redis}
        return json_response(request, body, status=200 if ok else 503)
