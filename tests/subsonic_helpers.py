"""Subsonic test helpers: a client over real HTTP that validates every `f=json` answer against the OpenSubsonic
JSON schemas (vendored in tests/opensubsonic, Apache-2.0), listeners with Subsonic tokens, a small real library
imported through the pipeline, and a statement counter for the one-query-per-call checks."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_twisted
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from funkwhale import storage
from funkwhale.music.importer.pipeline import process_upload

from . import audio
from . import catalog_factories as cf
from .catalog_factories import insert_listener, insert_upload
from .client import ApiClient

SCHEMAS = Path(__file__).parent / "opensubsonic"
NS = "{http://subsonic.org/restapi}"


def _retrieve(uri: str) -> Resource:
    path = Path(uri.removeprefix("file://"))
    return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT202012)


@cache
def validator(method: str) -> Draft202012Validator:
    """The validator of `method`'s JSON answer (success or failure), from its endpoint description."""
    base = SCHEMAS / "endpoints"
    response = json.loads((base / f"{method}.json").read_text())["get"]["responses"]["200"]
    if "$ref" in response:  # a shared response description
        path = (base / response["$ref"]).resolve()
        response, base = json.loads(path.read_text()), path.parent
    uri = (base / response["content"]["application/json"]["schema"]["$ref"]).resolve().as_uri()
    return Draft202012Validator({"$ref": uri}, registry=Registry(retrieve=_retrieve))


def validate(method: str, body: Any) -> None:
    """Raise AssertionError naming every schema violation of `body` as `method`'s answer."""
    errors = validator(method.removesuffix(".view")).iter_errors(body)
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
    assert not problems, f"{method} answer does not match the OpenSubsonic schema: {problems[:5]}"


def with_token(conn: Any, username: str, token: str | None = None) -> dict[str, Any]:
    """A listener (with a local actor) whose Subsonic API token is `token` (default `<username>-subsonic`)."""
    user = insert_listener(conn, username)
    if token is not None:
        with conn.cursor() as cur:
            cur.execute("UPDATE users SET subsonic_api_token = %s WHERE id = %s", (token, user["id"]))
    return {**user, "subsonic_api_token": token or user["subsonic_api_token"]}


class Subsonic:
    """Calls /rest/<method> as `user` with token auth (u + t + s), or with the `auth` parameters given."""

    def __init__(self, server: Any, user: dict[str, Any] | None = None, prefix: str = "/rest") -> None:
        self.http: ApiClient = server.client()
        self.user = user
        self.prefix = prefix

    def credentials(self) -> dict[str, str]:
        assert self.user is not None
        salt = secrets.token_hex(4)
        token = hashlib.md5((self.user["subsonic_api_token"] + salt).encode()).hexdigest()
        return {"u": self.user["username"], "t": token, "s": salt}

    async def raw(
        self, method: str, params: dict[str, Any] | None = None, auth: dict[str, str] | None = None, post: bool = False
    ) -> Any:
        query = {"v": "1.16.1", "c": "tests", **(self.credentials() if auth is None else auth), **(params or {})}
        if post:
            return await self.http.post(f"{self.prefix}/{method}", form=query)
        return await self.http.get(f"{self.prefix}/{method}?{urlencode(query, doseq=True)}")

    async def json(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """The `subsonic-response` of a JSON call, validated against the schema; HTTP 200 always."""
        resp = await self.raw(method, {"f": "json", **(params or {})}, **kw)
        assert resp.code == 200, resp
        assert resp.header("content-type").startswith("application/json"), resp.header("content-type")
        body = resp.json
        validate(method, body)
        return body["subsonic-response"]

    async def ok(self, method: str, **params: Any) -> dict[str, Any]:
        content = await self.json(method, params)
        assert content["status"] == "ok", content
        return content

    async def error(self, method: str, params: dict[str, Any] | None = None, **kw: Any) -> int:
        """The error code of a call that must fail (JSON, validated)."""
        content = await self.json(method, params, **kw)
        assert content["status"] == "failed", content
        for key in ("type", "serverVersion", "openSubsonic", "version"):
            assert key in content, content
        return content["error"]["code"]

    async def xml(self, method: str, **params: Any) -> ET.Element:
        """The root element of an XML call (the default format)."""
        resp = await self.raw(method, params)
        assert resp.code == 200 and resp.header("content-type").startswith("application/xml"), resp
        root = ET.fromstring(resp.body)
        assert root.tag == f"{NS}subsonic-response", root.tag
        return root


def upload_file(ctx: Any, conn: Any, library: dict[str, Any], source: Path) -> dict[str, Any]:
    """A pending upload of a copy of `source` under MEDIA_ROOT (its real size), for process_upload."""
    name = storage.new_name(storage.TRACKS, source.suffix)
    target = storage.absolute(ctx.settings, name)
    storage.ensure_parent(target)
    shutil.copyfile(source, target)
    return insert_upload(conn, library, None, import_status="pending", audio_file=name, size=target.stat().st_size)


# The small real library: (file name, format, tags).
LIBRARY = [
    ("one", "mp3", {"title": "First Light", "artist": "The Night Owls", "album": "Dusk", "track": "1/2",
                    "date": "2001-03-04", "genre": "Rock", "replaygain": {"track_gain": "-6.50 dB"},
                    "mbid": "0a1b2c3d-1111-4222-8333-444455556666"}),
    ("two", "flac", {"title": "Second Wind", "artist": "The Night Owls", "album": "Dusk", "track": "2/2",
                     "date": "2001-03-04", "genre": "Rock"}),
    ("three", "ogg", {"title": "Abendlied", "artist": "Die Ärzte", "album": "Nacht", "track": "1",
                      "date": "1995-01-01", "genre": "Punk"}),
]  # fmt: skip


async def import_library(ctx: Any, conn: Any, library: dict[str, Any], directory: Path) -> list[int]:
    """Import LIBRARY (real tagged files, Dusk with a cover) through the pipeline; returns the upload ids."""
    cover = audio.make_cover("green")
    uploads = []
    for name, fmt, tags in LIBRARY:
        path = audio.make_audio(directory, name, fmt, cover=cover if tags["album"] == "Dusk" else None, **tags)
        upload = upload_file(ctx, conn, library, path)
        assert await process_upload(ctx, upload["id"]) == "finished"
        uploads.append(upload["id"])
    return uploads


def one(conn: Any, sql: str, *params: Any) -> Any:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()


class StatementCounter:
    """Counts the SQL statements the daemon runs for data (database work whose description starts with
    `subsonic.` but is not authentication)."""

    def __init__(self, server: Any) -> None:
        self.executed: list[str] = []
        self._real = server.ctx.db.run
        server.ctx.db.run = self._run

    async def _run(self, fn: Any, *args: Any, desc: str, **kw: Any) -> Any:
        if not desc.startswith("subsonic.") or desc == "subsonic.auth":
            return await self._real(fn, *args, desc=desc, **kw)
        executed = self.executed

        class Counting:
            def __init__(self, txn: Any) -> None:
                self._txn = txn

            def execute(self, statement: str, params: Any = None) -> Any:
                executed.append(statement)
                return self._txn.execute(statement, params)

            def __getattr__(self, name: str) -> Any:
                return getattr(self._txn, name)

        return await self._real(lambda txn, *a: fn(Counting(txn), *a), *args, desc=desc, **kw)


# -- fixtures for the Subsonic test modules (a pytest plugin: tests/conftest.py lists this module) -------------


@pytest_twisted.async_yield_fixture
async def imported(web_server: Any, db_conn: Any, alice: dict[str, Any], tmp_path: Path) -> Any:
    """Alice's private library "Home", filled with LIBRARY's real files through the import pipeline."""
    library = cf.insert_library(db_conn, alice, "me", name="Home")
    await import_library(web_server.ctx, db_conn, library, tmp_path / "files")
    yield library


@pytest.fixture
def ids(db_conn: Any, imported: Any) -> dict[str, str]:
    """Typed ids of the imported library: tracks `first`, `second`, `abend`; album `dusk`; artist `owls`."""
    row = one(
        db_conn,
        "SELECT (SELECT id FROM track WHERE title = 'First Light') AS first,"
        " (SELECT id FROM track WHERE title = 'Second Wind') AS second,"
        " (SELECT id FROM track WHERE title = 'Abendlied') AS abend,"
        " (SELECT id FROM album WHERE title = 'Dusk') AS dusk,"
        " (SELECT id FROM artist WHERE name = 'The Night Owls') AS owls",
    )
    prefixes = {"first": "tr", "second": "tr", "abend": "tr", "dusk": "al", "owls": "ar"}
    return {name: f"{prefixes[name]}-{value}" for name, value in row.items()}
