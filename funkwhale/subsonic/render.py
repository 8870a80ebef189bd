"""One response tree rendered as Subsonic XML, JSON or JSONP.

The tree is plain dicts and lists, written once for both formats by Subsonic's mapping rules: a scalar is an
XML attribute (a JSON value of its own type), a dict is a single child element (a JSON object, never an array),
a list is repeated child elements (a JSON array, even of one item; scalars become text elements), and the key
`value` is an element's text. None is left out everywhere. XML drops the characters XML 1.0 forbids (control
characters in a tag), so the document always parses; xml_writer.py writes it, a list at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import orjson

from funkwhale.instance.nodeinfo import COMPATIBLE_VERSION, implementation_version
from funkwhale.subsonic import xml_writer
from funkwhale.subsonic.xml_writer import XmlPiece
from funkwhale.threads import run_cpu
from funkwhale.web.json import dumps

API_VERSION = "1.16.1"
SERVER_TYPE = "funkwhale"
SERVER_VERSION = implementation_version()
XMLNS = "http://subsonic.org/restapi"
LARGE = 200  # list items beyond which a response is rendered in a thread (a 500-artist index: ~1,000)
_PG_UTC = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00:00")
_CONTAINERS = (dict, list)  # a tuple: `dict | list` in a loop builds a union type per node tested
T = TypeVar("T")
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,99}$")
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'


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


def to_xml(content: dict[str, Any]) -> bytes:
    """The document, its pieces encoded one by one and joined once: joining and encoding a long answer whole made
    megabytes of copies, each in fresh pages (a 2,000-song getStarred2: ~2,700 page faults, ~8 ms of CPU)."""
    pieces = xml_writer.document("subsonic-response", {"xmlns": XMLNS, **content})
    return b"".join([_DECLARATION, *map(str.encode, pieces)])


class Clean(dict[str, Any]):
    """An element built without None anywhere inside it (an album of a list): the JSON writer takes it as it is."""


class CleanList(list[Any]):
    """A list of elements built without None anywhere inside them (a page of songs): taken as it is, as a whole,
    so that its elements need not be Clean copies of the dicts they are built as."""


def _clean(value: Any) -> Any:
    """The tree without None (a 500-song page has ~100k nodes: scalars are not recursed into, Clean elements and
    lists neither)."""
    if isinstance(value, dict):
        if type(value) is Clean:
            return value
        return {k: _clean(v) if isinstance(v, _CONTAINERS) else v for k, v in value.items() if v is not None}
    if type(value) is CleanList:
        return value
    return [_clean(v) if isinstance(v, _CONTAINERS) else v for v in value if v is not None]


def _json(tree: Any) -> bytes:
    """`web.json.dumps(tree)`, twice as fast: a tree's keys are strings, and orjson's option for other keys (which
    `dumps` sets) halves its speed (a 2,000-song answer: 2.0 -> 1.1 ms); what orjson alone cannot write (another
    key, a value `dumps` writes its own way) is written by `dumps`."""
    try:
        return orjson.dumps(tree)
    except orjson.JSONEncodeError:
        return dumps(tree)


def to_json(content: dict[str, Any]) -> bytes:
    return _json({"subsonic-response": _clean(content)})


def written_as(fmt: str | None, callback: str | None) -> str:
    """ "json" (JSON and JSONP) or "xml": how a response in format `fmt` writes its pieces."""
    return "xml" if _kind((fmt or "xml").lower(), callback) == "xml" else "json"


def write_piece(written: str, name: str, items: list[Any]) -> bytes:
    """The list `items` of elements `name` written as a response `written` as would (without None), for a cache
    to keep it written: a JSON array, or the XML elements."""
    if written == "json":
        return _json(_clean(items))
    return "".join(xml_writer.elements(name, items)).encode()


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


class Later:
    """An answer's body that `build(*args)` makes of rows (a handler's return), built and rendered in one job of the
    CPU pool: its elements are made, written and freed there, the rows too, none of it on the reactor (a
    getStarred2 of 2,000 songs: ~9 ms in JSON, ~18 in XML), in one thread hop."""

    __slots__ = ("args", "build")

    def __init__(self, build: Callable[..., dict[str, Any]], *args: Any) -> None:
        self.build = build
        self.args: tuple[Any, ...] = args

    def render(self, fmt: str, callback: str | None) -> tuple[bytes, bytes]:
        """(body, content type) of the answer in format `fmt`. The rows are let go of once built, before the
        writing: fewer objects alive at once, so fewer collections by the GC (which counts them)."""
        tree = envelope(self.build(*self.args))
        self.args = ()
        return render(tree, fmt, callback)


def is_large(content: Any, limit: int = LARGE) -> bool:
    """Whether the tree holds more than `limit` list items (so rendering it takes more than a millisecond or so);
    stops counting there. A Clean element (an album of a list) or a CleanList's element (a song) counts as its list's
    item, unwalked."""
    stack, seen = [content], 0
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            seen += len(value)
            if seen > limit:
                return True
            if type(value) is not CleanList:
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
        body = b"".join((f"{callback}(".encode(), to_json(content), b");"))
    else:
        body = to_json(content) if kind == "json" else to_xml(content)
    return body, _TYPES[kind]
