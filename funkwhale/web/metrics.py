"""GET /metrics: Prometheus' text format, never public.

Off (`FUNKWHALE_METRICS` false) it is a 404 everywhere. On the web listener it is served only when
`FUNKWHALE_METRICS_TOKEN` is set, to `Authorization: Bearer <token>` (else 401, a wrong token 403); a listener of
its own (`FUNKWHALE_METRICS_LISTEN`, meant for a private address) serves /metrics and nothing else, and asks for
the token too when one is set."""

from __future__ import annotations

import hmac
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from funkwhale.context import Context
from funkwhale.metrics.http import RequestMetrics
from funkwhale.metrics.scrape import render
from funkwhale.web.site import FunkwhaleSite

log = Logger()


def _json(request: Any, status: int, body: bytes) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    return body


class MetricsPage(Resource):
    """/metrics; `requests` None (metrics off) or no token where one is required: a 404."""

    isLeaf = True

    def __init__(self, ctx: Context, requests: RequestMetrics | None, token: str | None, need_token: bool) -> None:
        super().__init__()
        self.ctx = ctx
        self.requests = requests
        self.token = token
        self.served = requests is not None and (token is not None or not need_token)

    def render_GET(self, request: Any) -> Any:
        request.route = "/metrics"  # its label in the request metrics
        if not self.served or request.postpath not in ([], [b""]):
            return _json(request, 404, b'{"detail":"Not found."}')
        if self.token is not None:
            given = request.getHeader(b"authorization") or b""
            if not given.lower().startswith(b"bearer "):
                request.setHeader(b"WWW-Authenticate", b'Bearer realm="metrics"')
                return _json(request, 401, b'{"detail":"Authentication credentials were not provided."}')
            if not hmac.compare_digest(given[7:].strip(), self.token.encode()):
                return _json(request, 403, b'{"detail":"Invalid token."}')
        Deferred.fromCoroutine(self._answer(request))
        return NOT_DONE_YET

    async def _answer(self, request: Any) -> None:
        assert self.requests is not None
        try:
            body = await render(self.ctx, self.requests)
        except Exception:
            log.failure("metrics: the scrape failed")
            body = _json(request, 500, b'{"detail":"internal error"}')
        else:
            request.setHeader(b"Content-Type", CONTENT_TYPE_LATEST.encode())
        if not request._disconnected:
            request.write(body)
            request.finish()


class _OnlyMetrics(Resource):
    """The root of the metrics listener: /metrics, and 404 for every other path."""

    def __init__(self, page: MetricsPage) -> None:
        super().__init__()
        self.page = page

    def getChild(self, path: bytes, request: Any) -> Resource:
        return self.page if path == b"metrics" and not request.postpath else _NotFound()


class _NotFound(Resource):
    isLeaf = True

    def render(self, request: Any) -> bytes:
        return _json(request, 404, b'{"detail":"Not found."}')


def metrics_site(ctx: Context, requests: RequestMetrics) -> FunkwhaleSite:
    """The Site of FUNKWHALE_METRICS_LISTEN (small bodies, the access log, `Server: funkwhale` as the web's)."""
    page = MetricsPage(ctx, requests, ctx.settings.metrics_token, need_token=False)
    site = FunkwhaleSite(_OnlyMetrics(page))
    site.settings = ctx.settings
    site.displayTracebacks = False
    site.noisy = False
    return site
