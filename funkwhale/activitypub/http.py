"""What the federation routes share: their error type, its JSON rendering, and JSON answers with a media type.

activitypub/ does not import web/ (DESIGN.md): this is its own small equivalent of web/errors.py.
"""

from __future__ import annotations

import json
from typing import Any, cast

from klein import Klein
from twisted.internet.defer import CancelledError
from twisted.logger import Logger
from twisted.python.failure import Failure
from werkzeug.exceptions import HTTPException

from funkwhale.activitypub.signatures import IncomingRequest
from funkwhale.context import Context
from funkwhale.instance import settings as prefs
from funkwhale.routing_errors import routing_error

log = Logger()

ACTIVITY_JSON = "application/activity+json"
JRD_JSON = "application/jrd+json"


class FederationError(Exception):
    """An error a peer gets as `{"detail": ..., "code": ...}` with an HTTP status."""

    def __init__(self, status: int, detail: str, code: str = "invalid") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code


def not_found() -> FederationError:
    return FederationError(404, "Not found.", "not_found")


def respond(request: Any, body: Any, content_type: str, status: int = 200) -> bytes:
    """`body` as compact UTF-8 JSON with this Content-Type."""
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", content_type.encode())
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def install_errors(app: Klein) -> None:
    """FederationError becomes its JSON body; anything else a logged 500 without a traceback."""

    @app.handle_errors(FederationError)
    def _error(self: Any, request: Any, failure: Failure) -> bytes:
        error = cast(FederationError, failure.value)
        return respond(request, {"detail": error.detail, "code": error.code}, "application/json", error.status)

    @app.handle_errors(HTTPException)
    def _routing(self: Any, request: Any, failure: Failure) -> bytes:
        status, body = routing_error(request, cast(HTTPException, failure.value))
        return respond(request, body, "application/json", status)

    @app.handle_errors(CancelledError)
    def _cancelled(self: Any, request: Any, failure: Failure) -> bytes:
        return b""

    @app.handle_errors(Exception)
    def _bug(self: Any, request: Any, failure: Failure) -> bytes:
        log.failure("unhandled error on {method} {path}", failure, method=request.method, path=request.path)
        return respond(request, {"detail": "Internal server error.", "code": "server_error"}, "application/json", 500)


async def require_enabled(ctx: Context) -> None:
    """404 when an administrator switched federation off (`federation__enabled`)."""
    if not await prefs.get(ctx, "federation__enabled"):
        raise not_found()


def incoming_request(request: Any, body: bytes, scheme: str | None = None) -> IncomingRequest:
    """What the signature verifier needs of a Twisted request: the raw URI, the headers as received.

    `scheme` completes RFC 9421's `@target-uri`: behind a TLS-terminating proxy pass the public one
    (`settings.protocol`); by default it is the connection's.
    """
    headers = {
        name.decode("latin-1").lower(): ", ".join(v.decode("latin-1") for v in values)
        for name, values in request.requestHeaders.getAllRawHeaders()
    }
    return IncomingRequest(
        method=request.method.decode("ascii", "replace"),
        target=request.uri.decode("latin-1"),
        headers=headers,
        body=body,
        scheme=scheme or ("https" if request.isSecure() else "http"),
    )
