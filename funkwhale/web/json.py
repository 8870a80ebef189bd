"""JSON in and out of requests."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

JSON_TYPE = b"application/json"


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "hex") and type(value).__name__ == "UUID":
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(request: Any, body: Any, status: int = 200, content_type: bytes = JSON_TYPE) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", content_type + b"; charset=utf-8")
    return dumps(body)


def read_body(request: Any) -> dict[str, Any]:
    """The request body as a dict: JSON, or an urlencoded form (one value per key). 400 on bad input."""
    from funkwhale.web.errors import ApiError

    ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    request.content.seek(0)
    raw = request.content.read()
    if not raw.strip():
        return {}
    if ctype == b"application/x-www-form-urlencoded":
        try:
            form = parse_qs(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise ApiError(400, "The form is not valid UTF-8.", "parse_error") from None
        return {k: v[0] if len(v) == 1 else v for k, v in form.items()}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"JSON parse error - {e}", "parse_error") from None
    if not isinstance(value, dict):
        raise ApiError(400, "Expected a JSON object.", "parse_error")
    return value


def query(request: Any, name: str, default: str | None = None) -> str | None:
    """One query-string parameter as text."""
    values = request.args.get(name.encode())
    return values[0].decode("utf-8", "replace") if values else default
