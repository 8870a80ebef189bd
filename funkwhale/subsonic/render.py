"""One response tree rendered as Subsonic XML, JSON or JSONP.

The tree is plain dicts and lists, written once for both formats by Subsonic's mapping rules: a scalar is an
XML attribute (a JSON value of its own type), a dict is a single child element (a JSON object, never an array),
a list is repeated child elements (a JSON array, even of one item; scalars become text elements), and the key
`value` is an element's text. None is left out everywhere. XML drops the characters XML 1.0 forbids (control
characters in a tag), so the document always parses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import orjson

from funkwhale.instance.nodeinfo import COMPATIBLE_VERSION, implementation_version
from funkwhale.threads import run_cpu
from funkwhale.web.json import dumps
from funkwhale.xmlchars import FORBIDDEN, xml_safe

API_VERSION = "1.16.1"
SERVER_TYPE = "funkwhale"
SERVER_VERSION = implementation_version()
XMLNS = "http://subsonic.org/restapi"
LARGE = 200  # list items beyond which a response is rendered in a thread (a 500-artist index: ~1,000)
_PG_UTC = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00:00")
_CONTAINERS = (dict, list)  # a tuple: `dict | list` in a loop builds a union type per node tested
T = TypeVar("T")
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,99}$")


def envelope(body: dict[str, Any] | None, error: tuple[int, str] | None = None) -> dict[str, Any]:
    """The `subsonic-response` content: status, versions (Funkwhale's funkwhaleVersion too) and OpenSubsonic
    markers, then the body or the error."""
    head: dict[str, Any] = {
        "status": "failed" if error else "ok",
        "version": API_VERSION,
        "type": SERVER_TYPE,
        "serverVersion": SERVER_VERSION,
        "openSubsonic": True,
        "funkwhaleVersion": COMPATIBLE_VERSION,  # the Funkwhale API we speak, as Funkwhale's own answers say
    }
    if error is not None:
        head["error"] = {"code": error[0], "message": error[1]}
    return {**head, **(body or {})}


def iso(value: datetime | date | str | None) -> str | None:
    """ISO-8601 in UTC with milliseconds and a Z, as Subsonic clients parse it. Takes datetimes and the
    timestamps PostgreSQL writes into JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 24 and value[-1] == "Z":  # already in this form (funkwhale.subsonic.store.iso_sql)
            return value
        utc = _PG_UTC.fullmatch(value)
        if utc:  # PostgreSQL's text of a UTC timestamp, as it writes it into JSON: cut, not parsed (4x faster)
            return f"{utc[1]}.{(utc[2] or '').ljust(3, '0')[:3]}Z"
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    value = value.astimezone(UTC) if value.tzinfo else value
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


# What a scalar's text needs changed: characters XML 1.0 forbids (xmlchars), or ones escaped in an attribute.
_UNSAFE = re.compile(f'{FORBIDDEN.pattern}|[&<>"\n\r\t]')
_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)


def _text(value: Any) -> str:
    """A scalar as escaped XML text, fit for an attribute (in double quotes) or an element, without the
    characters XML 1.0 forbids. Most values need no change, which one regular expression search tells."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = value if isinstance(value, str) else str(value)
    return xml_safe(text).translate(_ESCAPES) if _UNSAFE.search(text) else text


def _xml(name: str, value: Any, out: list[str]) -> None:
    if not isinstance(value, dict):
        out.append(f"<{name}>{_text(value)}</{name}>")
        return
    attrs: list[str] = []
    children: list[tuple[str, Any]] = []
    for key, v in value.items():
        if v is None:
            continue
        if isinstance(v, _CONTAINERS) or type(v) is XmlPiece:
            children.append((key, v))
        elif key != "value":
            attrs.append(f' {key}="{_text(v)}"')
    text = value.get("value")
    if text is None and not children:
        out.append(f"<{name}{''.join(attrs)}/>")
        return
    out.append(f"<{name}{''.join(attrs)}>" if text is None else f"<{name}{''.join(attrs)}>{_text(text)}")
    for key, v in children:
        if isinstance(v, dict):
            _xml(key, v, out)
            continue
        if type(v) is XmlPiece:
            out.append(v)
            continue
        for item in v:
            if item is not None:
                _xml(key, item, out)
    out.append(f"</{name}>")


def to_xml(content: dict[str, Any]) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    _xml("subsonic-response", {"xmlns": XMLNS, **content}, out)
    return "".join(out).encode()


class Clean(dict[str, Any]):
    """An element built without None anywhere inside it (a song): the JSON writer takes it as it is."""


def _clean(value: Any) -> Any:
    """The tree without None (a 500-song page has ~100k nodes: scalars are not recursed into, Clean elements
    neither)."""
    if isinstance(value, dict):
        if type(value) is Clean:
            return value
        return {k: _clean(v) if isinstance(v, _CONTAINERS) else v for k, v in value.items() if v is not None}
    return [_clean(v) if isinstance(v, _CONTAINERS) else v for v in value if v is not None]


def to_json(content: dict[str, Any]) -> bytes:
    return dumps({"subsonic-response": _clean(content)})


class XmlPiece(str):
    """Elements already written as XML, which `to_xml` writes as they are where a list of them would go."""


def written_as(fmt: str | None, callback: str | None) -> str:
    """"json" (JSON and JSONP) or "xml": how a response in format `fmt` writes its pieces."""
    return "xml" if _kind((fmt or "xml").lower(), callback) == "xml" else "json"


def write_piece(written: str, name: str, items: list[Any]) -> bytes:
    """The list `items` of elements `name` written as a response `written` as would (without None), for a cache
    to keep it written: a JSON array, or the XML elements."""
    if written == "json":
        return dumps(_clean(items))
    out: list[str] = []
    for item in items:
        if item is not None:
            _xml(name, item, out)
    return "".join(out).encode()


def piece(written: str, text: bytes) -> Any:
    """A piece `write_piece` wrote, to put in a response tree: spliced into the answer as it is (not parsed, nor
    written again: orjson.Fragment in JSON, XmlPiece in XML)."""
    return orjson.Fragment(text) if written == "json" else XmlPiece(text.decode())


async def elements(rows: list[T], build: Callable[[list[T]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The elements `build` makes of the rows (serializers.songs); in the CPU pool when they are more than LARGE
    (500 songs: ~2 ms)."""
    if len(rows) <= LARGE:
        return build(rows)
    return await run_cpu(build, rows)


def is_large(content: Any, limit: int = LARGE) -> bool:
    """Whether the tree holds more than `limit` list items (so rendering it takes more than a millisecond or so);
    stops counting there. A Clean element (a song, an album of a list) counts as its list's item, unwalked."""
    stack, seen = [content], 0
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            seen += len(value)
            if seen > limit:
                return True
            stack.extend(v for v in value if type(v) is not Clean and isinstance(v, _CONTAINERS))
        else:
            stack.extend(v for v in value.values() if type(v) is not Clean and isinstance(v, _CONTAINERS))
    return False


def _kind(fmt: str, callback: str | None) -> str:
    """What format `fmt` writes: json, jsonp (with a usable callback) or xml (anything unknown)."""
    if fmt == "jsonp" and callback and _CALLBACK.match(callback):
        return "jsonp"
    return "json" if fmt in ("json", "jsonp") else "xml"  # jsonp without a usable callback: plain JSON


_TYPES = {
    "json": b"application/json; charset=utf-8",
    "jsonp": b"application/javascript; charset=utf-8",
    "xml": b"application/xml; charset=utf-8",
}


def content_type(fmt: str, callback: str | None) -> bytes:
    return _TYPES[_kind(fmt, callback)]


def render(content: dict[str, Any], fmt: str, callback: str | None) -> tuple[bytes, bytes]:
    """(body, content type) of a response in format `fmt` (anything unknown is XML)."""
    kind = _kind(fmt, callback)
    if kind == "jsonp":
        body = f"{callback}(".encode() + to_json(content) + b");"
    else:
        body = to_json(content) if kind == "json" else to_xml(content)
    return body, _TYPES[kind]
