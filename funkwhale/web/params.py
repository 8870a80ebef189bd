"""Reading a web API request's input: query parameters, the body, ids in the path, pagination past the end.

Every helper applies `funkwhale.params`' checks (no NUL in text, integers that fit a bigint), so bad input is a 400
(or a 404 where Funkwhale answers one) here, at parse time, and never reaches SQL. Imports no route module.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

from funkwhale.params import BadField, BadValue, check_json, check_text, to_int
from funkwhale.web.errors import ApiError, field_error, not_found

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _text(raw: bytes, name: str) -> str:
    """Query bytes as text (invalid UTF-8 replaced, as Django does); a NUL is a 400 naming the parameter."""
    try:
        return check_text(raw.decode("utf-8", "replace"))
    except BadValue as e:
        raise field_error(name, str(e)) from None


def query(request: Any, name: str, default: str | None = None) -> str | None:
    """One query-string parameter as text (the first when repeated), `default` when absent."""
    values = request.args.get(name.encode())
    return _text(values[0], name) if values else default


def query_values(request: Any, name: str) -> list[str]:
    """Every non-blank value of a repeated parameter (`tag=a&tag=b`), in order."""
    return [_text(v, name) for v in request.args.get(name.encode(), []) if v.strip()]


def query_items(request: Any) -> list[tuple[str, str]]:
    """Every (name, value) pair of the query string, in order."""
    items: list[tuple[str, str]] = []
    for key, values in request.args.items():
        name = _text(key, "query")
        items.extend((name, _text(v, name)) for v in values)
    return items


def query_int(request: Any, name: str) -> int | None:
    """An integer parameter; None when absent or blank."""
    raw = query(request, name)
    return None if raw is None or raw == "" else to_int(raw, name, "Enter a number.")


def query_bool(request: Any, name: str) -> bool | None:
    """A boolean parameter as django-filter reads it; None when absent, blank or "unknown"."""
    raw = (query(request, name) or "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    if raw in ("", "unknown", "none"):
        return None
    raise field_error(name, "Select a valid choice.")


def query_uuid(request: Any, name: str) -> uuid.UUID | None:
    """A UUID parameter (a filter); None when absent or blank, a 400 when not a UUID."""
    raw = query(request, name) or None
    try:
        return uuid.UUID(raw) if raw is not None else None
    except ValueError:
        raise field_error(name, "Enter a valid UUID.") from None


def parse_uuid(raw: str) -> uuid.UUID:
    """A UUID from a URL segment or an object reference; 404 when it is not one (no such object)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise not_found() from None


def _form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Form fields as DRF reads them: one value per name, a list when the name is repeated."""
    form: dict[str, list[str]] = {}
    for key, value in pairs:
        form.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in form.items()}


def read_body(request: Any) -> dict[str, Any]:
    """The request body as a dict: JSON, an urlencoded form or a multipart form (parsed by the site before routing;
    a file part's value is its file name), form values as text. 400 on bad input: malformed, nested too deep, not
    an object, NUL in a string, an integer beyond a bigint."""
    multipart = getattr(request, "multipart_fields", None)
    if isinstance(multipart, Exception):
        raise ApiError(400, str(multipart), "parse_error")
    if multipart is not None:
        return _checked(_form(multipart))
    ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    request.content.seek(0)
    raw = request.content.read()
    body: Any
    if not raw.strip():
        return {}
    if ctype == b"application/x-www-form-urlencoded":
        try:
            body = _form(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise ApiError(400, "The form is not valid UTF-8.", "parse_error") from None
    else:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, f"JSON parse error - {e}", "parse_error") from None
        except RecursionError:
            raise ApiError(400, "JSON parse error - the document is nested too deeply.", "parse_error") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Expected a JSON object.", "parse_error")
    return _checked(body)


def _checked(body: dict[str, Any]) -> dict[str, Any]:
    """`body` when its text and numbers pass `check_json`; else a 400 naming the field."""
    try:
        return check_json(body)
    except BadField as e:
        name = e.field if "\x00" not in e.field else "non_field_errors"  # a NUL in the field's own name
        raise field_error(name, str(e)) from None
