"""JSON responses (reading requests is `web/params.py`), written by orjson.

The output is what `json.dumps(ensure_ascii=False, separators=(",", ":"))` wrote before: UTF-8 without escapes
beyond what JSON requires (`</` is not escaped: no page embeds our JSON in HTML), keys in insertion order, dates
as `isoformat()` (orjson writes datetimes and dates as isoformat does, in C), UUIDs as their canonical text.
What orjson refuses (integers beyond 64 bits, a time of day with a time zone) is written by the standard module.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

JSON_TYPE = b"application/json"
_OPTIONS = orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "hex") and type(value).__name__ == "UUID":
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError as e:  # a TypeError, as json.dumps raises for what it cannot write
        if "64-bit" not in str(e) and "tzinfo" not in str(e):
            raise
        return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """Parse JSON that we or PostgreSQL wrote (an integer beyond 64 bits, which we never write, becomes a float)."""
    return orjson.loads(data)


def json_response(request: Any, body: Any, status: int = 200, content_type: bytes = JSON_TYPE) -> bytes:
    """`body` as the JSON answer, with its Content-Length (so it is sent whole, not in chunks)."""
    data = dumps(body)
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", content_type + b"; charset=utf-8")
    request.setHeader(b"Content-Length", b"%d" % len(data))
    return data
