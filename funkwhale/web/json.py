"""JSON responses (reading requests is `web/params.py`)."""

from __future__ import annotations

import json
from typing import Any

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
