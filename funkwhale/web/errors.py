"""ApiError and the one place that turns errors into JSON responses for every API area."""

from __future__ import annotations

from typing import Any, TypeVar

from klein import Klein
from twisted.internet.defer import CancelledError
from twisted.logger import Logger
from twisted.python.failure import Failure
from werkzeug.exceptions import HTTPException

from funkwhale.errors import Invalid
from funkwhale.routing_errors import routing_error
from funkwhale.storage.base import MediaMissing, StorageError
from funkwhale.web.json import json_response

E = TypeVar("E", bound=BaseException)

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


STATUSES = {"invalid": 400, "unauthenticated": 401, "forbidden": 403, "not_found": 404, "throttled": 429}


def from_invalid(error: Invalid) -> ApiError:
    """A domain refusal as the REST API answers it: its field errors, detail and code, with the status of its
    kind."""
    return ApiError(STATUSES[error.kind], error.detail, error.code, error.fields)


def error_of(failure: Failure, kind: type[E]) -> E:
    """The exception a `handle_errors(kind)` handler was called for, typed (Klein calls it only for `kind`)."""
    error = failure.value
    assert isinstance(error, kind), error
    return error


def install_api_errors(app: Klein) -> None:
    """Map ApiError and the domain's Invalid to their JSON bodies (Retry-After when throttled), routing failures
    to DRF's 404/405, and anything else to a logged 500 without a traceback."""

    @app.handle_errors(ApiError)
    def _api_error(self: Any, request: Any, failure: Failure) -> bytes:
        error = error_of(failure, ApiError)
        return json_response(request, error.body(), status=error.status)

    @app.handle_errors(Invalid)
    def _invalid(self: Any, request: Any, failure: Failure) -> bytes:
        error = error_of(failure, Invalid)
        if error.retry_after is not None:
            request.setHeader(b"Retry-After", str(error.retry_after).encode())
        api_error = from_invalid(error)
        return json_response(request, api_error.body(), status=api_error.status)

    @app.handle_errors(HTTPException)
    def _routing(self: Any, request: Any, failure: Failure) -> bytes:
        status, body = routing_error(request, error_of(failure, HTTPException))
        return json_response(request, body, status=status)

    @app.handle_errors(StorageError)
    def _storage(self: Any, request: Any, failure: Failure) -> bytes:
        error = error_of(failure, StorageError)
        if isinstance(error, MediaMissing):
            return json_response(request, {"detail": "The file is not available.", "code": "file_missing"}, 404)
        log.error("{method} {path}: {error}", method=request.method, path=request.path, error=str(error))
        body = {"detail": "The media storage is unavailable, try again later.", "code": "storage_unavailable"}
        return json_response(request, body, status=503)

    @app.handle_errors(CancelledError)
    def _cancelled(self: Any, request: Any, failure: Failure) -> bytes:
        return b""  # the client went away

    @app.handle_errors(Exception)
    def _bug(self: Any, request: Any, failure: Failure) -> bytes:
        log.failure("unhandled error on {method} {path}", failure, method=request.method, path=request.path)
        return json_response(request, {"detail": "Internal server error.", "code": "server_error"}, status=500)
