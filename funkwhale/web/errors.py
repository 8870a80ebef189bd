"""ApiError and the one place that turns errors into JSON responses for every API area."""

from __future__ import annotations

from typing import Any

from klein import Klein
from twisted.internet.defer import CancelledError
from twisted.logger import Logger
from twisted.python.failure import Failure
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from funkwhale.web.json import json_response

log = Logger()


class ApiError(Exception):
    """An error a client gets as `{"detail": ..., "code": ...}` (plus field errors) with an HTTP status."""

    def __init__(self, status: int, detail: str, code: str = "invalid", fields: dict[str, list[str]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.fields = fields or {}

    def body(self) -> dict[str, Any]:
        return {**self.fields, "detail": self.detail, "code": self.code}


def field_error(name: str, message: str, status: int = 400) -> ApiError:
    """A 400 naming one field, shaped like DRF's `{"field": ["message"]}`."""
    return ApiError(status, f"{name}: {message}", "invalid", {name: [message]})


def not_found(what: str = "Not found.") -> ApiError:
    return ApiError(404, what, "not_found")


def _routing_error(request: Any, error: HTTPException) -> bytes:
    """What Klein's router raised, as Funkwhale (DRF) answers it: no route is the JSON 404, a route without the
    method a JSON 405 with `Allow`, a missing trailing slash the router's redirect."""
    if isinstance(error, RequestRedirect):
        request.setHeader(b"Location", error.new_url.encode())
        return json_response(request, {"detail": "Moved."}, status=error.code)
    if isinstance(error, MethodNotAllowed):
        request.setHeader(b"Allow", ", ".join(error.valid_methods or ()).encode())
        method = request.method.decode("latin-1")
        return json_response(request, {"detail": f'Method "{method}" not allowed.'}, status=405)
    if isinstance(error, NotFound):
        return json_response(request, {"detail": "Not found."}, status=404)
    return json_response(request, {"detail": error.description or error.name}, status=error.code or 400)


def install_api_errors(app: Klein) -> None:
    """Map ApiError to its JSON body, routing failures to DRF's 404/405, and anything else to a logged 500
    without a traceback."""

    @app.handle_errors(ApiError)
    def _api_error(self: Any, request: Any, failure: Failure) -> bytes:
        error = failure.value
        return json_response(request, error.body(), status=error.status)

    @app.handle_errors(HTTPException)
    def _routing(self: Any, request: Any, failure: Failure) -> bytes:
        return _routing_error(request, failure.value)

    @app.handle_errors(CancelledError)
    def _cancelled(self: Any, request: Any, failure: Failure) -> bytes:
        return b""  # the client went away

    @app.handle_errors(Exception)
    def _bug(self: Any, request: Any, failure: Failure) -> bytes:
        log.failure("unhandled error on {method} {path}", failure, method=request.method, path=request.path)
        return json_response(request, {"detail": "Internal server error.", "code": "server_error"}, status=500)
