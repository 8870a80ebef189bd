"""What Klein's router raises, as Funkwhale (DRF) answers it; shared by the API areas (web/errors.py) and the
federation routes (activitypub/http.py), which render it in their own way."""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect


def routing_error(request: Any, error: HTTPException) -> tuple[int, dict[str, str]]:
    """(status, JSON body) for a routing failure, setting its headers on `request`: no route is the JSON 404,
    a route without the method a JSON 405 with `Allow`, a missing trailing slash the router's redirect."""
    if isinstance(error, RequestRedirect):
        request.setHeader(b"Location", error.new_url.encode())
        return error.code, {"detail": "Moved."}
    if isinstance(error, MethodNotAllowed):
        request.setHeader(b"Allow", ", ".join(error.valid_methods or ()).encode())
        return 405, {"detail": f'Method "{request.method.decode("latin-1")}" not allowed.'}
    if isinstance(error, NotFound):
        return 404, {"detail": "Not found."}
    return error.code or 400, {"detail": error.description or error.name}
