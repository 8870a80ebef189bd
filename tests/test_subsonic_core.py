"""The Subsonic protocol and authentication over real HTTP: paths, formats, the envelope, every credential form
and every refusal (each answered with HTTP 200 and a schema-valid failed envelope)."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

import pytest_twisted

from . import catalog_factories as cf
from .conftest import start_server
from .subsonic_helpers import NS, Subsonic, validate, with_token
from .test_accounts_ratelimit import attempt, with_csrf


@pytest_twisted.ensureDeferred
async def test_ping_in_every_format_and_path(web_server, db_conn):
    alice = with_token(db_conn, "alice")
    api = Subsonic(web_server, alice)
    content = await api.ok("ping")
    assert content == {
        "status": "ok", "version": "1.16.1", "type": "funkwhale", "serverVersion": content["serverVersion"],
        "openSubsonic": True, "funkwhaleVersion": "1.4.0",
    }  # fmt: skip
    root = await api.xml("ping")
    assert (root.attrib["status"], root.attrib["openSubsonic"], root.attrib["type"]) == ("ok", "true", "funkwhale")
    for path in ("/rest/ping.view", "/api/subsonic/rest/ping", "/api/subsonic/rest/ping.view"):
        method = path.rsplit("/", 1)[1]
        api.prefix = path.rsplit("/", 1)[0]
        assert (await api.json(method))["status"] == "ok", path
    resp = await api.raw("ping", {"f": "jsonp", "callback": "cb.done"})
    assert resp.header("content-type").startswith("application/javascript")
    assert resp.body.startswith(b"cb.done(") and resp.body.endswith(b");")
    assert json.loads(resp.body[len(b"cb.done(") : -2])["subsonic-response"]["status"] == "ok"


@pytest_twisted.ensureDeferred
async def test_every_credential_form(web_server, db_conn):
    alice = with_token(db_conn, "alice", "sésame-1")
    api = Subsonic(web_server, alice)
    hexed = "enc:" + "sésame-1".encode().hex()
    for auth in ({"u": "alice", "p": "sésame-1"}, {"u": "ALICE", "p": hexed}, api.credentials()):
        assert (await api.json("ping", auth=auth))["status"] == "ok", auth
    # DSub: v=1.2.0, enc: password, POST with everything in the query string.
    resp = await api.http.post(f"/rest/getLicense.view?u=alice&p={hexed}&v=1.2.0&c=DSub&f=json")
    assert resp.json["subsonic-response"]["license"]["valid"] is True
    # OpenSubsonic formPost: the parameters in an urlencoded body, merged with the query string.
    resp = await api.http.post("/rest/ping?f=json", form={"u": "alice", "p": "sésame-1", "c": "x"})
    assert resp.json["subsonic-response"]["status"] == "ok"
    # apiKey: a personal application token.
    web = cf.listener_client(web_server, db_conn, alice)
    app = await web.post(
        "/api/v1/oauth/apps/",
        json_body={"name": "Player", "scopes": "read:libraries", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"},
    )
    key = app.json["token"]
    assert (await api.json("tokenInfo", auth={"apiKey": key}))["tokenInfo"] == {"username": "alice"}
    assert await api.error("ping", auth={"apiKey": key, "u": "alice"}) == 43
    assert await api.error("ping", auth={"apiKey": key + "x"}) == 44


@pytest_twisted.ensureDeferred
async def test_every_refusal_is_a_subsonic_error_with_http_200(web_server, db_conn):
    alice = with_token(db_conn, "alice")
    cf.insert_listener(db_conn, "tokenless")
    api = Subsonic(web_server, alice)
    assert await api.error("ping", auth={}) == 10
    assert await api.error("ping", auth={"u": "alice"}) == 10
    assert await api.error("ping", auth={"u": "alice", "t": "abc"}) == 10
    assert await api.error("ping", auth={"u": "alice", "p": "wrong"}) == 40
    assert await api.error("ping", auth={"u": "alice", "p": "enc:zz"}) == 40
    assert await api.error("ping", auth={"u": "nobody", "p": "x"}) == 40
    assert await api.error("ping", auth={"u": "tokenless", "p": ""}) == 40
    assert await api.error("ping", auth={"u": "alice", "t": "0" * 32, "s": "salty1"}) == 40
    assert await api.error("ping", auth={**api.credentials(), "p": "alice-subsonic"}) == 43
    assert await api.error("ping", auth={"u": "alice", "jwt": "e30"}) == 42
    assert await api.error("ping", {"v": "2.0.0"}) == 30
    assert await api.error("ping", {"v": "0.9.0"}) == 20
    # An unknown method: error 70, still a valid envelope (validated as ping's).
    resp = await api.raw("getNothing", {"f": "json"})
    validate("ping", resp.json)
    assert resp.code == 200 and resp.json["subsonic-response"]["error"]["code"] == 70
    # XML failure.
    resp = await api.raw("ping", auth={"u": "alice", "p": "wrong"})
    root = ET.fromstring(resp.body)
    error = root.find(f"{NS}error")
    assert root.attrib["status"] == "failed" and error.attrib["code"] == "40" and root.attrib["serverVersion"]


@pytest_twisted.ensureDeferred
async def test_an_api_key_needs_the_read_libraries_scope(web_server, db_conn):
    alice = with_token(db_conn, "alice")
    web = cf.listener_client(web_server, db_conn, alice)
    app = await web.post(
        "/api/v1/oauth/apps/",
        json_body={"name": "Profile", "scopes": "read:profile", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"},
    )
    api = Subsonic(web_server, alice)
    assert await api.error("ping", auth={"apiKey": app.json["token"]}) == 50


@pytest_twisted.ensureDeferred
async def test_a_disabled_api_refuses_everything(web_server, db_conn):
    alice = with_token(db_conn, "alice")
    api = Subsonic(web_server, alice)
    assert (await api.ok("getOpenSubsonicExtensions"))["openSubsonicExtensions"]
    cf.set_preference(db_conn, "subsonic__enabled", False)
    assert await api.error("ping") == 50
    assert await api.error("getOpenSubsonicExtensions", auth={}) == 50


@pytest_twisted.ensureDeferred
async def test_extensions_are_public_and_license_valid(web_server, db_conn):
    alice = with_token(db_conn, "alice")
    api = Subsonic(web_server, alice)
    extensions = (await api.json("getOpenSubsonicExtensions", auth={}))["openSubsonicExtensions"]
    names = {e["name"]: e["versions"] for e in extensions}
    assert names["formPost"] == [1] and names["apiKeyAuthentication"] == [1]
    root = await api.xml("getOpenSubsonicExtensions")
    assert [e.attrib["name"] for e in root.findall(f"{NS}openSubsonicExtensions")] == sorted(names)
    assert (await api.ok("getLicense"))["license"]["valid"] is True


@pytest_twisted.async_yield_fixture
async def strict_server(settings):
    running = await start_server(dataclasses.replace(settings, role="web", login_rate_limit=3))
    yield running
    await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_wrong_credentials_count_toward_the_login_limit(strict_server, db_conn):
    alice = with_token(db_conn, "alice")
    api = Subsonic(strict_server, alice)
    await api.ok("ping")  # a clear standing, kept in the cache until a counter moves
    for _ in range(3):
        assert await api.error("ping", auth={"u": "alice", "p": "wrong"}) == 40
    # Over the limit even the right token is refused, and the web API's login limit says so too.
    assert await api.error("ping") == 40
    status = (await api.http.get("/api/v1/rate-limit/")).json
    assert next(s for s in status["scopes"] if s["id"] == "login")["remaining"] == 0
    resp = await api.http.post("/api/v1/users/login", form={"username": "alice", "password": "password-1234"})
    assert resp.code == 429


@pytest_twisted.ensureDeferred
async def test_wrong_web_passwords_also_close_subsonic_to_the_account(strict_server, db_conn):
    alice = with_token(db_conn, "alice")
    api, browser = Subsonic(strict_server, alice), await with_csrf(strict_server.client())
    await api.ok("ping")
    for _ in range(3):
        assert await attempt(browser, "alice") == 400
    assert await api.error("ping") == 40, "the account's counter is full: its right token is refused too"
