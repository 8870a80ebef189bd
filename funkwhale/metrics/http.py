"""Requests by route template, method and status, with latency histograms, in the web process's own registry.

The route label is the template a request matched (the area's mount path and its Klein rule, such as
`/api/v1/tracks/<int:track_id>/`), never the raw path, so ids add no label values; what no route matched (the web
app, unknown paths, bodies refused before routing) is `unmatched`."""

from __future__ import annotations

from typing import Any

from klein.interfaces import IKleinRequest
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.process_collector import ProcessCollector
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

UNMATCHED = "unmatched"

disable_created_metrics()  # no `*_created` series: a counter's start is not worth a series of its own
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_label(request: Any) -> str:
    """The route template `request` matched: its area (`request.route_area`, set by web.app) and Klein rule, or
    the `request.route` a resource outside the areas names itself with."""
    if getattr(request, "route", None):
        return str(request.route)
    area = getattr(request, "route_area", None)
    klein = IKleinRequest(request, None) if area is not None else None
    mapper = getattr(klein, "mapper", None)
    if mapper is None:
        return UNMATCHED
    try:
        rule, _ = mapper.match(return_rule=True)  # the match Klein made, again: the rule itself is not kept
    except (HTTPException, RoutingException):
        return UNMATCHED
    return f"/{area}{rule.rule}"


def name_route(request: Any, name: str) -> None:
    """Label `request` `/<area>/<name>` rather than its rule's template (Subsonic's methods, a known set)."""
    request.route = f"/{getattr(request, 'route_area', '')}/{name}"


def method_label(request: Any) -> str:
    method = (request.method or b"").decode("latin-1")
    return method if method in METHODS else "other"


class RequestMetrics:
    """The web process's registry: request counts and durations, and the process itself (CPU, memory, fds)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "funkwhale_http_requests",
            "HTTP requests answered, by route template, method and status code",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "funkwhale_http_request_duration_seconds",
            "Time from the request's arrival to its last byte, by route template and method",
            ["route", "method"],
            registry=self.registry,
        )

    def observe(self, request: Any, seconds: float | None) -> None:
        """Count one answered request (from the site's access log)."""
        route, method = route_label(request), method_label(request)
        self.requests.labels(route, method, str(request.code)).inc()
        if seconds is not None:
            self.latency.labels(route, method).observe(seconds)
