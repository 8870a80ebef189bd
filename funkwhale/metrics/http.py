"""Requests by route template, method and status, with latency histograms, in the web process's own registry.

The route label is the template a request matched (the area's mount path and its Klein rule, such as
`/api/v1/tracks/<int:track_id>/`), never the raw path, so ids add no label values; what no route matched (the web
app, unknown paths, bodies refused before routing) is `unmatched`.

With several web processes (FUNKWHALE_WEB_PROCESSES), the daemon makes prometheus_client count in files shared by
every web process (`share_between_processes`), and a scrape, whichever process answers it, sums them all."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from klein.interfaces import IKleinRequest
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, values
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RoutingException

UNMATCHED = "unmatched"
SHARED_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's multiprocess mode; web children inherit it

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


def share_between_processes(directory: Path) -> None:
    """In the daemon, before its web children start: count requests in files under `directory` (emptied: the
    counts of an earlier run are not this one's), which the children learn from their environment."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True)
    os.environ[SHARED_DIR] = str(directory)
    values.ValueClass = values.get_value_class()  # chosen when prometheus_client was imported


class RequestMetrics:
    """The web process's registry: request counts and durations, and the process itself (CPU, memory, fds).
    Shared between web processes (SHARED_DIR set), `scraped` sums every process's files, without the process
    collector (one process's figures, whichever answered, would say nothing of the others)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.shared = SHARED_DIR in os.environ
        if self.shared:
            self.scraped = CollectorRegistry()
            MultiProcessCollector(self.scraped, os.environ[SHARED_DIR])
        else:
            ProcessCollector(registry=self.registry)
            self.scraped = self.registry
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
