"""Bad input gets a 4xx (Subsonic: an error code), never a 5xx or an error in the log.

The sweep throws every attack below at every route of every area of `web/app.py` (each Klein rule, by each of its
methods) and at every Subsonic method, as query parameters, JSON and form bodies, path segments and headers,
against the real server, and fails on any 5xx or error-level log event. A route refusing one parameter (a 400
naming it) would hide what the next parameter does, so the sweep resends without the parameters named until the
route stops refusing.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from typing import Any
from urllib.parse import quote

import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.defer import DeferredSemaphore, gatherResults
from twisted.logger import LogLevel, globalLogPublisher
from twisted.web.client import Agent, CookieAgent, HTTPConnectionPool

from funkwhale.subsonic.app import load_endpoints
from funkwhale.subsonic.registry import ENDPOINTS
from funkwhale.web.app import AREAS

from . import catalog_factories as cf
from .playback_helpers import add_playable

LONG = "9" * 4400
NUMBER_ATTACKS = ["99999999999999999999", "9223372036854775807", "²", LONG]
# Text values that once gave a 500: NUL (PostgreSQL refuses it in text), integers beyond a bigint or beyond
# Python's 4,300-digit conversion limit, digits str.isdigit accepts and int() or SQL does not, non-ASCII where
# ASCII was assumed (a listen `token`).
TEXT_ATTACKS = ["a\x00b", "é€", *NUMBER_ATTACKS]
# Raw query bytes: non-UTF-8 keys and values, a NUL key.
QUERY_ATTACKS = [b"%FF%FE=1", b"q=%FF%FE", b"a%00b=1", b"%C3=%C3"]
# Whole JSON documents: nested 100,000 deep, integers beyond a bigint.
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
HEADER_ATTACKS = [
    {"Range": "bytes=" + "9" * 4400 + "-"},
    {"Range": "bytes=0-" + "9" * 4400},
    {"Range": "bytes=-" + "9" * 4400},
    {"Range": "bytes=99999999999999999999-"},
    {"If-Range": "\x01"},
    {"If-None-Match": "W/" + '"' * 3000},
    {"Accept-Encoding": "gzip;q=" + "9" * 4400},
    {"Authorization": "Bearer é"},
    {"Authorization": "Basic " + "é" * 10},
]
# The parameter names the routes read (one attack is put in all of them at once).
WEB_NAMES = [
    "q", "query", "page", "page_size", "id", "artist", "album", "library", "tag", "scope", "ordering", "user",
    "playable", "has_albums", "content_category", "privacy_level", "import_status", "import_reference", "track",
    "to", "upload", "max_bitrate", "download", "token", "next", "format", "name", "session", "radio_type",
    "related_object_id", "custom_radio", "description", "config", "target", "tracks", "index", "from", "allow",
    "client_id", "client_secret", "grant_type", "code", "redirect_uri", "refresh_token", "username", "password",
    "email", "old_password", "new_password1", "new_password2", "avatar", "is_public", "action", "objects",
    "import_metadata", "content", "response_type", "state", "code_verifier", "code_challenge", "scopes",
    "invitation", "password1", "password2", "identifier", "value", "position", "creation_date",
]  # fmt: skip
SUBSONIC_NAMES = [
    "id", "albumId", "artistId", "musicFolderId", "size", "offset", "count", "type", "fromYear", "toYear", "genre",
    "query", "artistCount", "artistOffset", "albumCount", "albumOffset", "songCount", "songOffset", "songId",
    "playlistId", "name", "comment", "public", "songIdToAdd", "songIndexToRemove", "rating", "time", "submission",
    "position", "current", "maxBitRate", "format", "timeOffset", "estimateContentLength", "ifModifiedSince",
    "username", "artist", "title", "includeNotPresent", "converted", "f", "callback",
]  # fmt: skip
SUBSONIC_AUTH = ["u", "p", "t", "s", "v", "c", "apiKey"]
# Where a 4,400-digit value goes in a query string (all names at once would pass the request line's limit).
INT_NAMES = ["page", "page_size", "id", "artist", "album", "track", "user", "max_bitrate", "session", "index"]


class ErrorLog:
    """Collects error-level (and critical) log events while active."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        level = event.get("log_level")
        if event.get("isError") or event.get("log_failure") is not None or (level and level >= LogLevel.error):
            self.events.append(event)

    def __enter__(self) -> ErrorLog:
        globalLogPublisher.addObserver(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        globalLogPublisher.removeObserver(self)

    def describe(self) -> list[str]:
        return [
            f"{e.get('log_format')} {e.get('method', '')} {e.get('path', '')}: "
            f"{e['log_failure'].getErrorMessage() if e.get('log_failure') else ''}"
            for e in self.events
        ]


def _query(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs).encode()


class Sweep:
    """Sends requests (a few at a time) and records every 5xx."""

    def __init__(self, client: Any) -> None:
        client.pool = HTTPConnectionPool(reactor, persistent=True)  # keep-alive: thousands of requests
        client.http = treq.client.HTTPClient(CookieAgent(Agent(reactor, pool=client.pool), client.jar))
        self.client = client
        self.failures: list[str] = []
        self.sent = 0
        self.limit = DeferredSemaphore(6)

    async def send(self, method: str, path: str, query: bytes = b"", **kw: Any) -> Any:
        url = path + ("?" + query.decode("ascii") if query else "")
        response = await self.limit.run(lambda: _deferred(self.client.request(method, url, **kw)))
        self.sent += 1
        if response.code >= 500:
            self.failures.append(f"{method} {url[:160]} {str(kw)[:120]} -> {response.code} {response.body[:200]!r}")
        return response

    async def adaptive(self, method: str, path: str, names: list[str], value: str, json_body: bool) -> None:
        """The attack in every name (of the query, and of a JSON body if `json_body`), then again without the
        names the route refused, until it refuses none. A long value goes in two names at a time (a request line
        has a length limit)."""
        if len(value) * len(names) > 12_000:
            pairs = [names[i : i + 2] for i in range(0, len(names), 2)]
            await gatherResults([_deferred(self.adaptive(method, path, two, value, json_body)) for two in pairs])
            return
        remaining = list(names)
        for _ in range(len(names)):
            pairs = [(name, value) for name in remaining]
            kw = {"json_body": dict(pairs)} if json_body else {}
            response = await self.send(method, path, _query(pairs), **kw)
            refused = _refused(response, remaining)
            if not refused:
                return
            remaining = [name for name in remaining if name not in refused]


def _deferred(coro: Any) -> Any:
    from twisted.internet.defer import Deferred

    return Deferred.fromCoroutine(coro)


def _refused(response: Any, names: list[str]) -> set[str]:
    """The parameters a 4xx (or a Subsonic error) names."""
    if response.code == 404 and b"Invalid page." in response.body:
        return {"page", "page_size"} & set(names)
    text = response.body.decode("utf-8", "replace")
    if response.code >= 400:
        try:
            body = response.json
        except ValueError:
            return set()
        named = set(body) & set(names) if isinstance(body, dict) else set()
        return named or {name for name in names if re.search(rf"\b{re.escape(name)}\b", str(body.get("detail", "")))}
    match = re.search(r"parameter:? '?([A-Za-z_]+)", text) or re.search(r"parameter ([A-Za-z_]+)", text)
    if match and match.group(1) in names:
        return {match.group(1)}
    if '"failed"' in text or 'status="failed"' in text:  # error 70 and friends name no parameter: drop ids
        return {name for name in names if name.lower().endswith("id") or name in ("id", "u", "p")} or set()
    return set()


def _path(area: str, rule: str, segment: str, known: dict[str, str] | None = None) -> str:
    """The rule's path with ints as 1 and each other part as what `known` gives for its name, else `segment`."""
    concrete = re.sub(r"<int:[^>]+>", "1", rule)
    return "/" + area + re.sub(r"<([^>]+)>", lambda m: quote((known or {}).get(m[1], segment), safe=""), concrete)


def _web_routes() -> list[tuple[str, str, str]]:
    """(method, rule, area path) of every Klein route of every area (Subsonic apart)."""
    routes = []
    for area, target in AREAS:
        module, _, name = target.partition(":")
        if module == "funkwhale.subsonic.app":
            continue
        app = getattr(importlib.import_module(module), name).app
        for rule in app.url_map.iter_rules():
            if rule.rule.rstrip("/").endswith("logout"):
                continue  # would end the sweep's own session
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                routes.append((method, rule.rule, area))
    return routes


def _subsonic_auth(user: dict[str, Any]) -> list[tuple[str, str]]:
    salt = "abcd1234"
    token = hashlib.md5((user["subsonic_api_token"] + salt).encode()).hexdigest()
    return [("u", user["username"]), ("t", token), ("s", salt), ("v", "1.16.1"), ("c", "sweep")]


def _arrange(db_conn: Any, settings: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Alice, with a track (id 1) whose file is real (so Range is parsed), and the names of her objects for the
    routes' path parameters."""
    alice = cf.insert_listener(db_conn, "alice")
    library = cf.insert_library(db_conn, alice, "everyone")
    song = add_playable(db_conn, settings, library, "mp3")
    known = {
        "track_uuid": str(song.track["uuid"]),
        "upload_uuid": str(song.upload["uuid"]),
        "library_uuid": str(library["uuid"]),
        "username": "alice",
        "size": str(song.path.stat().st_size),
    }
    return alice, known


@pytest_twisted.ensureDeferred
async def test_no_route_answers_bad_input_with_a_5xx(server, db_conn, settings):
    alice, known = _arrange(db_conn, settings)
    sweep = Sweep(cf.listener_client(server, db_conn, alice))
    load_endpoints()
    with ErrorLog() as errors:
        jobs = []
        # Subsonic first: the web sweep may change alice's account.
        auth = _subsonic_auth(alice)
        for prefix in ("/rest", "/api/subsonic/rest"):
            for name in sorted(ENDPOINTS) if prefix == "/rest" else ["getAlbumList2", "stream", "search3"]:
                path = f"{prefix}/{name}"
                for value in TEXT_ATTACKS:
                    pairs = auth + [(n, value) for n in SUBSONIC_NAMES]
                    jobs.append(sweep.send("POST", path, data=_query(pairs), headers=_FORM))
                    if value != LONG:  # too long for a request line: the form above carries it
                        jobs.append(sweep.send("GET", path, _query(pairs)))
                        jobs.append(sweep.send("GET", path, _query(auth + [(n, value) for n in SUBSONIC_NAMES[5:]])))
                for raw in QUERY_ATTACKS:
                    jobs.append(sweep.send("GET", path, _query(auth) + b"&" + raw))
        for name in ("ping", "getAlbumList2", "stream"):
            for value in TEXT_ATTACKS:
                for key in SUBSONIC_AUTH:
                    pairs = [(k, v) for k, v in auth if k != key] + [(key, value), ("type", "random")]
                    jobs.append(sweep.send("POST", f"/rest/{name}", data=_query(pairs), headers=_FORM))
            for headers in HEADER_ATTACKS:
                jobs.append(sweep.send("GET", f"/rest/{name}", _query(auth + [("id", "tr-1")]), headers=headers))
        await gatherResults([_deferred(job) for job in jobs])

        jobs = []
        for area, _ in AREAS:
            for segment in ("%FF%FE", "a%00b", "%C3"):  # not UTF-8, or a NUL: in an unmatched and a matched place
                jobs.append(sweep.send("GET", f"/{area}/{segment}/"))
                jobs.append(sweep.send("GET", f"/{area}/{segment}/1/"))
        for method, rule, area in _web_routes():
            path = _path(area, rule, "abc", known)
            for value in TEXT_ATTACKS:
                if value in NUMBER_ATTACKS:  # read by per-parameter helpers: try each parameter
                    names = INT_NAMES if value == LONG else WEB_NAMES
                    jobs.append(sweep.adaptive(method, path, names, value, method not in ("GET", "DELETE")))
                else:  # refused wherever any parameter is parsed: once in every name
                    pairs = [(name, value) for name in WEB_NAMES]
                    jobs.append(sweep.send(method, path, _query(pairs), json_body=dict(pairs)))
                if method not in ("GET", "DELETE"):
                    jobs.append(sweep.send(method, path, form={name: value for name in WEB_NAMES}))
                if "<" in rule and "<int:" not in rule:
                    jobs.append(sweep.send(method, _path(area, rule, value)))
            for raw in QUERY_ATTACKS:
                jobs.append(sweep.send(method, path, raw))
            if method != "GET":
                for document in (DEEP_JSON, DEEP_OBJECT, b'{"id": 99999999999999999999, "track": 1e999}'):
                    jobs.append(sweep.send(method, path, data=document, headers={"Content-Type": "application/json"}))
                jobs.append(sweep.send(method, path, data=b"a%00=1&%FF=%FE", headers=_FORM))
            for headers in HEADER_ATTACKS if method == "GET" else ():
                jobs.append(sweep.send(method, path, headers=headers))
        await gatherResults([_deferred(job) for job in jobs])
    await sweep.client.pool.closeCachedConnections()
    assert sweep.failures == [], f"{len(sweep.failures)} of {sweep.sent}:\n" + "\n".join(sweep.failures[:40])
    assert errors.events == [], "\n".join(errors.describe()[:40])
    assert (await sweep.client.get("/api/v1/users/me/")).code == 200  # the sweep ran signed in throughout


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest_twisted.ensureDeferred
async def test_unknown_routes_and_methods_answer_like_funkwhale(server, db_conn):
    """Inside an area, a path no route serves is DRF's JSON 404 and a method the route lacks its JSON 405 with
    Allow (Klein's router raised NotFound / MethodNotAllowed, which became logged 500s)."""
    client = cf.listener_client(server, db_conn, cf.insert_listener(db_conn, "alice"))
    with ErrorLog() as errors:
        for path in ("/api/v1/tracks/abc/", "/api/v1/tracks/1/nothing/", "/api/v1/playlists/1/x/y/", "/api/v1/oauth/x"):
            response = await client.get(path)
            assert (response.code, response.json) == (404, {"detail": "Not found."}), (path, response)
        response = await client.put("/api/v1/tracks/", json_body={})
        assert response.code == 405, response
        assert response.json == {"detail": 'Method "PUT" not allowed.'}
        assert set(response.header("Allow").split(", ")) == {"GET", "HEAD"}
        allowed: dict[tuple[str, str], set[str]] = {}
        for method, rule, area in _web_routes():
            allowed.setdefault((area, rule), set()).add(method)
        for (area, rule), methods in allowed.items():
            path = _path(area, rule, "0b5e7c3a-1111-4222-8333-944455556666")
            for wrong in sorted({"PUT", "DELETE", "POST", "PATCH"} - methods):
                response = await client.request(wrong, path, json_body={})
                assert response.code < 500, (wrong, path, response)  # another rule may match (`<identifier>`)
                if response.code == 405:
                    assert response.json == {"detail": f'Method "{wrong}" not allowed.'}, (wrong, path, response)
                    assert wrong not in response.header("Allow"), (wrong, path, response.header("Allow"))
    assert errors.events == [], "\n".join(errors.describe())


@pytest_twisted.ensureDeferred
async def test_each_reported_input_gets_its_4xx(server, db_conn, settings):
    """The inputs of the report, each where it gave a 500, with the answer it gets now."""
    alice, known = _arrange(db_conn, settings)
    library = cf.insert_library(db_conn, alice, "me", name="second")
    cf.playable_track(db_conn, library, cf.insert_artist(db_conn, "Nina"), "Two")
    client = cf.listener_client(server, db_conn, alice)
    listen_url = f"/api/v1/listen/{known['track_uuid']}/"
    with ErrorLog() as errors:
        response = await client.get("/api/v1/tracks/?q=a%00b")
        assert (response.code, response.json["q"]) == (400, ["Null characters are not allowed."]), response
        response = await client.get("/api/v1/tracks/?page=99999999999999999999")
        assert (response.code, response.json["detail"]) == (404, "Invalid page."), response
        response = await client.get("/api/v1/tracks/?artist=99999999999999999999")
        assert response.code == 400 and "artist" in response.json, response
        response = await client.get("/api/v1/tracks/?page_size=1&%FF%FE=1")  # a next link keeps every key
        assert response.code == 200 and "%EF%BF%BD" in response.json["next"], response
        response = await client.post(
            "/api/v1/radios/sessions/", json_body={"radio_type": "artist", "related_object_id": "²"}
        )
        assert response.code == 400 and "related_object_id" in response.json, response
        response = await client.post("/api/v1/favorites/tracks/", json_body={"track": 99999999999999999999})
        assert response.code == 400 and "track" in response.json, response
        response = await client.post("/api/v1/playlists/", json_body={"name": "a\x00b"})
        assert (response.code, response.json["name"]) == (400, ["Null characters are not allowed."]), response
        response = await client.post("/api/v1/playlists/", data=DEEP_JSON, headers={"Content-Type": "application/json"})
        assert (response.code, response.json["code"]) == (400, "parse_error"), response
        response = await client.post(
            "/api/v1/oauth/token/", data=DEEP_OBJECT, headers={"Content-Type": "application/json"}
        )
        assert (response.code, response.json["error"]) == (400, "invalid_request"), response
        assert (await client.get("/api/v1/tags/a%00b/")).code == 404
        response = await client.get(f"/api/v1/attachments/{known['library_uuid']}")  # the router's redirect
        assert response.code == 308 and response.header("Location").endswith(f"/{known['library_uuid']}/"), response
        assert (await client.get("/api/v1/tracks")).code < 500
        assert (await client.get(listen_url + "?token=%C3%A9%E2%82%AC")).code == 401

        full = await client.get(listen_url, headers={"Range": "bytes=0-" + LONG})
        assert full.code == 200 and len(full.body) == int(known["size"])
        beyond = await client.get(listen_url, headers={"Range": "bytes=99999999999999999999-"})
        assert beyond.code == 416, beyond

        auth = _subsonic_auth(alice) + [("f", "json")]
        for method, params in (
            ("getAlbumList2", [("type", "newest"), ("offset", "99999999999999999999")]),
            ("getRandomSongs", [("size", "99999999999999999999")]),
            ("search3", [("query", ""), ("songOffset", "9223372036854775807"), ("songCount", "99999999999999999999")]),
        ):
            response = await client.get(f"/rest/{method}?" + _query(auth + params).decode())
            assert response.json["subsonic-response"]["status"] == "ok", (method, response)
        for params, code in (
            ({"offset": "²"}, 0),
            ({"type": "a\x00b"}, 0),
            ({"t": "é"}, 40),
            ({"v": "²"}, None),  # not a version number: ignored
            ({"v": LONG}, 30),
        ):
            pairs = list(({**dict(auth), "type": "newest"} | params).items())
            content = (await client.get("/rest/getAlbumList2?" + _query(pairs).decode())).json["subsonic-response"]
            assert content.get("error", {}).get("code") == code, (params, content)
    assert errors.events == [], "\n".join(errors.describe())
