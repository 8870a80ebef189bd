"""OAuth over HTTP: application registration, the authorization-code flow with PKCE, refresh rotation,
revocation, grants, personal application tokens, and scopes on Bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
from http.cookiejar import Cookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest_twisted

from funkwhale.users.oauth.flows import clear_expired
from funkwhale.users.tokens import hash_token

from . import factories
from .client import ApiClient

APPS = "/api/v1/oauth/apps/"
CALLBACK = "https://client.example/callback"


def _cookie(name: str, value: str) -> Cookie:
    return Cookie(0, name, value, None, False, "127.0.0.1", False, False, "/", True, False, None, True, None, None, {})


def logged_in(server: Any, db_conn: Any, username: str) -> tuple[ApiClient, dict[str, Any]]:
    """A client with a session of a new user (sessionid + csrftoken cookies), and the user row."""
    user = factories.insert_user(db_conn, username)
    key, csrf = factories.insert_session(db_conn, user["id"])
    client = server.client()
    client.jar.set_cookie(_cookie("sessionid", key))
    client.jar.set_cookie(_cookie("csrftoken", csrf))
    return client, user


def bearer(server: Any, token: str) -> ApiClient:
    client = server.client()
    client.token = token
    return client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def register(client: ApiClient, scopes: str = "read write", redirect_uris: str = CALLBACK) -> dict:
    resp = await client.post(APPS, json_body={"name": "Player", "redirect_uris": redirect_uris, "scopes": scopes})
    assert resp.code == 201, resp
    return resp.json


async def authorize(user_client: ApiClient, app: dict, **extra: str) -> str:
    """Consent as the logged-in user; the code."""
    fields = {"client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read", "allow": "true", **extra}
    resp = await user_client.post("/api/v1/oauth/authorize/", form=fields)
    assert resp.code == 200, resp
    return resp.json["code"]


async def exchange(client: ApiClient, app: dict, **fields: str) -> Any:
    form = {"client_id": app["client_id"], "client_secret": app["client_secret"], **fields}
    return await client.post("/api/v1/oauth/token/", form=form)


async def tokens_for(server: Any, user_client: ApiClient, app: dict, scope: str = "read") -> dict:
    code = await authorize(user_client, app, scope=scope)
    resp = await exchange(server.client(), app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert resp.code == 200, resp
    return resp.json


# Applications


@pytest_twisted.ensureDeferred
async def test_anonymous_registration_shows_the_secret_once_and_checks_every_field(web_server, db_conn):
    client = web_server.client()
    app = await register(client, scopes="read write:libraries", redirect_uris=f"{CALLBACK}\nurn:ietf:wg:oauth:2.0:oob")
    assert set(app) == {"client_id", "client_secret", "name", "redirect_uris", "scopes", "created", "updated"}
    assert app["scopes"] == "read write:libraries"
    assert app["redirect_uris"] == f"{CALLBACK} urn:ietf:wg:oauth:2.0:oob"
    with db_conn.cursor() as cur:
        cur.execute("SELECT client_secret_hash, user_id, token_hash FROM oauth_application")
        row = cur.fetchone()
    assert row == {"client_secret_hash": hash_token(app["client_secret"]), "user_id": None, "token_hash": None}

    resp = await client.get(f"{APPS}{app['client_id']}")
    assert resp.code == 200
    assert resp.json == {k: app[k] for k in ("client_id", "name", "scopes", "created", "updated")}

    bad = {"redirect_uris": "ftp://x.example/ /relative https://ok.example/#frag urn:", "scopes": "read fly"}
    resp = await client.post(APPS, json_body=bad)
    assert resp.code == 400
    assert resp.json["name"] == ["This field is required."]
    assert len(resp.json["redirect_uris"]) == 4
    assert resp.json["scopes"] == ['"fly" is not a valid scope.']
    resp = await client.post(APPS, json_body={"name": " ", "scopes": ""})
    assert set(resp.json) >= {"name", "scopes"}
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM oauth_application")
        assert cur.fetchone()["n"] == 1

    assert (await client.get(APPS)).code == 401
    assert (await client.get(f"{APPS}nope/")).code == 404


@pytest_twisted.ensureDeferred
async def test_owned_app_comes_with_a_personal_token_and_only_its_owner_manages_it(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    bob, _ = logged_in(web_server, db_conn, "bob")
    app = await register(alice, scopes="read write")
    assert app["token"] and app["client_secret"]
    other = await register(bob)

    listing = (await alice.get(APPS)).json
    assert listing["count"] == 1 and listing["next"] is None and listing["previous"] is None
    assert [a["client_id"] for a in listing["results"]] == [app["client_id"]]
    # as 1.4's list but for `token`: 1.4 shows the personal token, which is only kept hashed here
    assert {"client_secret", "token", "redirect_uris"}.isdisjoint(listing["results"][0])
    assert (await alice.get(f"{APPS}{app['client_id']}/")).json["redirect_uris"] == CALLBACK
    assert "redirect_uris" not in (await bob.get(f"{APPS}{app['client_id']}/")).json

    resp = await alice.patch(f"{APPS}{app['client_id']}/", json_body={"name": "Renamed", "scopes": "read"})
    assert resp.code == 200 and resp.json["name"] == "Renamed" and resp.json["scopes"] == "read"
    assert resp.json["redirect_uris"] == CALLBACK
    resp = await alice.put(f"{APPS}{app['client_id']}/", json_body={"name": "Whole"})
    assert resp.code == 400 and resp.json["scopes"] == ["This field is required."]
    assert (await alice.patch(f"{APPS}{app['client_id']}/", json_body={"redirect_uris": "nope"})).code == 400
    for method in ("patch", "delete"):
        assert (await getattr(bob, method)(f"{APPS}{app['client_id']}/", json_body={"name": "x"})).code == 404
    assert (await bob.post(f"{APPS}{app['client_id']}/refresh-token")).code == 404
    assert (await alice.get(f"{APPS}{app['client_id']}/")).json["name"] == "Renamed"

    as_app = bearer(web_server, app["token"])
    assert (await as_app.get(APPS)).json["results"][0]["client_id"] == app["client_id"]
    assert (await alice.delete(f"{APPS}{app['client_id']}")).code == 204
    assert (await as_app.get(APPS)).code == 401
    assert (await alice.get(APPS)).json["count"] == 0
    assert (await bob.get(APPS)).json["results"][0]["client_id"] == other["client_id"]


@pytest_twisted.ensureDeferred
async def test_refreshing_the_personal_token_retires_the_old_one(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    app = await register(alice)
    resp = await alice.post(f"{APPS}{app['client_id']}/refresh-token/")
    assert resp.code == 200 and resp.json["client_id"] == app["client_id"]
    # the shape of 1.4's answer (CreateApplication): its client_secret is the stored hash, not the secret
    assert set(resp.json) == {"client_id", "name", "scopes", "client_secret", "created", "updated", "redirect_uris",
                              "token"}
    assert resp.json["client_secret"] and resp.json["client_secret"] != app["client_secret"]
    new = resp.json["token"]
    assert new != app["token"]
    assert (await bearer(web_server, app["token"]).get(APPS)).code == 401
    assert (await bearer(web_server, new).get(APPS)).code == 200


@pytest_twisted.ensureDeferred
async def test_a_token_is_held_to_its_scopes(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    profile_only = bearer(web_server, (await register(alice, scopes="read:profile"))["token"])
    resp = await profile_only.get(APPS)
    assert resp.code == 403 and resp.json["code"] == "permission_denied"
    assert (await profile_only.post(APPS, json_body={"name": "x", "scopes": "read"})).code == 403
    assert (await profile_only.get("/api/v1/oauth/grants/")).code == 403

    read_only = await register(alice, scopes="read")
    as_reader = bearer(web_server, read_only["token"])
    assert (await as_reader.get(APPS)).json["count"] == 2
    resp = await as_reader.patch(f"{APPS}{read_only['client_id']}/", json_body={"scopes": "read write"})
    assert resp.code == 403
    assert (await alice.get(f"{APPS}{read_only['client_id']}/")).json["scopes"] == "read"
    # a Bearer token cannot consent on the user's behalf
    assert (await as_reader.get("/api/v1/oauth/authorize/", params={"client_id": read_only["client_id"]})).code == 403

    for header in ("Bearer not-a-token", "Token abc"):
        assert (await web_server.client().get(APPS, headers={"Authorization": header})).code == 401


# Authorization-code flow


@pytest_twisted.ensureDeferred
async def test_authorization_code_flow_with_pkce(web_server, db_conn):
    alice, user = logged_in(web_server, db_conn, "alice")
    app = await register(web_server.client(), scopes="read write")
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": CALLBACK,
        "scope": "read write:libraries",
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    assert (await web_server.client().get("/api/v1/oauth/authorize/", params=params)).code == 401
    resp = await alice.get("/api/v1/oauth/authorize", params=params)
    assert resp.code == 200, resp
    assert resp.json["application"]["client_id"] == app["client_id"]
    assert resp.json["scopes"] == ["read", "write:libraries"] and resp.json["state"] == "s-1"

    resp = await alice.post("/api/v1/oauth/authorize/", form={**params, "allow": "true"})
    assert resp.code == 200, resp
    target = urlsplit(resp.json["redirect_uri"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == CALLBACK
    query = parse_qs(target.query)
    assert query["state"] == ["s-1"] and query["code"] == [resp.json["code"]]
    code = resp.json["code"]

    client = web_server.client()
    wrong = await exchange(
        client, app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK, code_verifier=pkce_pair()[0]
    )
    assert wrong.code == 400 and wrong.json["error"] == "invalid_grant"
    missing = await exchange(client, app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert missing.code == 400 and missing.json["error"] == "invalid_grant"
    other_uri = await exchange(
        client, app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK + "x", code_verifier=verifier
    )
    assert other_uri.json["error"] == "invalid_grant"

    ok = await exchange(
        client, app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK, code_verifier=verifier
    )
    assert ok.code == 200, ok
    assert ok.header("Cache-Control") == "no-store"
    tokens = ok.json
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 36000
    assert tokens["scope"] == "read write:libraries"
    with db_conn.cursor() as cur:
        cur.execute("SELECT user_id, token_hash FROM oauth_access_token")
        assert cur.fetchone() == {"user_id": user["id"], "token_hash": hash_token(tokens["access_token"])}

    again = await exchange(
        client, app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK, code_verifier=verifier
    )
    assert again.code == 400 and again.json["error"] == "invalid_grant"

    as_app = bearer(web_server, tokens["access_token"])
    assert (await as_app.get(APPS)).code == 200  # read covers read:security
    assert (await as_app.post(APPS, json_body={"name": "x", "scopes": "read"})).code == 403  # no write:security


@pytest_twisted.ensureDeferred
async def test_authorize_refuses_bad_requests_and_records_a_denial(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    app = await register(web_server.client(), scopes="read write:libraries", redirect_uris=CALLBACK)
    base = {"client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read", "allow": "true"}
    cases = [
        ({"client_id": "unknown"}, "client_id"),
        ({"redirect_uri": "https://evil.example/callback"}, "redirect_uri"),
        ({"redirect_uri": ""}, "redirect_uri"),
        ({"scope": "read fly"}, "scope"),
        ({"scope": "write:profile"}, "scope"),  # not among the app's scopes
        ({"response_type": "token"}, "response_type"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "code_challenge"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "S512"}, "code_challenge_method"),
    ]
    for change, field in cases:
        resp = await alice.post("/api/v1/oauth/authorize/", form={**base, **change})
        assert resp.code == 400 and field in resp.json, (change, resp)
    resp = await alice.post("/api/v1/oauth/authorize/", form={**base, "allow": "false", "state": "xyz"})
    assert resp.code == 200
    assert parse_qs(urlsplit(resp.json["redirect_uri"]).query) == {"error": ["access_denied"], "state": ["xyz"]}
    assert "code" not in resp.json
    no_csrf = await alice.post("/api/v1/oauth/authorize/", form=base, headers={"X-CSRFToken": "wrong"})
    assert no_csrf.code == 403
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM oauth_grant")
        assert cur.fetchone()["n"] == 0


@pytest_twisted.ensureDeferred
async def test_out_of_band_code_and_plain_pkce(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    oob = "urn:ietf:wg:oauth:2.0:oob"
    app = await register(web_server.client(), redirect_uris=oob)
    verifier = secrets.token_urlsafe(40)
    fields = {"client_id": app["client_id"], "redirect_uri": oob, "code_challenge": verifier, "allow": "on"}
    resp = await alice.post("/api/v1/oauth/authorize/", json_body=fields)
    assert resp.code == 200 and resp.json["code"]
    ok = await exchange(
        web_server.client(),
        app,
        grant_type="authorization_code",
        code=resp.json["code"],
        redirect_uri=oob,
        code_verifier=verifier,
    )
    assert ok.code == 200 and ok.json["scope"] == "read write"  # no scope asked: the app's


@pytest_twisted.ensureDeferred
async def test_token_endpoint_errors(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    app = await register(web_server.client())
    client = web_server.client()
    code = await authorize(alice, app)

    resp = await client.post(
        "/api/v1/oauth/token/",
        form={
            "client_id": app["client_id"],
            "client_secret": "wrong",
            "grant_type": "authorization_code",
            "code": code,
        },
    )
    assert resp.code == 401 and resp.json["error"] == "invalid_client"
    basic = base64.b64encode(f"{app['client_id']}:wrong".encode()).decode()
    resp = await client.post("/api/v1/oauth/token/", form={"code": code}, headers={"Authorization": f"Basic {basic}"})
    assert resp.code == 401 and resp.header("WWW-Authenticate")
    assert (await exchange(client, app, grant_type="password")).json["error"] == "unsupported_grant_type"
    assert (await exchange(client, app)).json["error"] == "invalid_request"

    with db_conn.cursor() as cur:
        cur.execute("UPDATE oauth_grant SET expires = now() - interval '1 second'")
    expired = await exchange(client, app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert expired.code == 400 and expired.json["error"] == "invalid_grant"

    other = await register(web_server.client())
    code = await authorize(alice, app)
    stolen = await exchange(client, other, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert stolen.json["error"] == "invalid_grant"
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    resp = await client.post(
        "/api/v1/oauth/token/",
        form={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert resp.code == 200 and resp.json["access_token"]


@pytest_twisted.ensureDeferred
async def test_refresh_rotates_both_tokens(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    app = await register(web_server.client(), scopes="read write")
    first = await tokens_for(web_server, alice, app, scope="read write")
    client = web_server.client()

    resp = await exchange(client, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert resp.code == 200, resp
    second = resp.json
    assert second["scope"] == "read write"
    assert {second["access_token"], second["refresh_token"]}.isdisjoint(first.values())
    assert (await bearer(web_server, first["access_token"]).get(APPS)).code == 401
    assert (await bearer(web_server, second["access_token"]).get(APPS)).code == 200
    reused = await exchange(client, app, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused.code == 400 and reused.json["error"] == "invalid_grant"

    wider = await exchange(client, app, grant_type="refresh_token", refresh_token=second["refresh_token"], scope="fly")
    assert wider.json["error"] == "invalid_scope"
    narrower = await exchange(
        client, app, grant_type="refresh_token", refresh_token=second["refresh_token"], scope="read:profile"
    )
    assert narrower.code == 200 and narrower.json["scope"] == "read:profile"
    assert (await bearer(web_server, narrower.json["access_token"]).get(APPS)).code == 403
    # the refresh token still carries what the user granted
    full = await exchange(client, app, grant_type="refresh_token", refresh_token=narrower.json["refresh_token"])
    assert full.code == 200 and full.json["scope"] == "read write"

    other = await register(web_server.client())
    stolen = await exchange(client, other, grant_type="refresh_token", refresh_token=full.json["refresh_token"])
    assert stolen.json["error"] == "invalid_grant"


@pytest_twisted.ensureDeferred
async def test_expired_access_token_is_refused(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    app = await register(web_server.client())
    tokens = await tokens_for(web_server, alice, app)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE oauth_access_token SET expires = now() - interval '1 second'")
    resp = await bearer(web_server, tokens["access_token"]).get(APPS)
    assert resp.code == 401 and resp.json["code"] == "authentication_failed"


@pytest_twisted.ensureDeferred
async def test_revocation(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    app = await register(web_server.client())
    other = await register(web_server.client())
    client = web_server.client()
    creds = {"client_id": app["client_id"], "client_secret": app["client_secret"]}

    tokens = await tokens_for(web_server, alice, app)
    foreign = await client.post(
        "/api/v1/oauth/revoke/",
        form={
            "token": tokens["access_token"],
            "client_id": other["client_id"],
            "client_secret": other["client_secret"],
        },
    )
    assert foreign.code == 200
    assert (await bearer(web_server, tokens["access_token"]).get(APPS)).code == 200
    resp = await client.post("/api/v1/oauth/revoke/", form={**creds, "token": tokens["access_token"]})
    assert resp.code == 200
    assert (await bearer(web_server, tokens["access_token"]).get(APPS)).code == 401

    tokens = await tokens_for(web_server, alice, app)
    form = {**creds, "token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
    assert (await client.post("/api/v1/oauth/revoke", form=form)).code == 200
    assert (await bearer(web_server, tokens["access_token"]).get(APPS)).code == 401
    refreshed = await exchange(client, app, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refreshed.json["error"] == "invalid_grant"

    assert (await client.post("/api/v1/oauth/revoke/", form={**creds, "token": "unknown"})).code == 200
    bad = await client.post("/api/v1/oauth/revoke/", form={"client_id": app["client_id"], "token": "x"})
    assert bad.code == 401 and bad.json["error"] == "invalid_client"


@pytest_twisted.ensureDeferred
async def test_grants_list_and_revoke_what_the_user_gave(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    bob, _ = logged_in(web_server, db_conn, "bob")
    app = await register(web_server.client())
    unused = await register(web_server.client())
    tokens = await tokens_for(web_server, alice, app)
    await authorize(alice, app)  # a pending code counts too
    await tokens_for(web_server, bob, app)

    resp = await alice.get("/api/v1/oauth/grants/")
    assert resp.code == 200
    assert [a["client_id"] for a in resp.json] == [app["client_id"]]
    assert (await alice.delete(f"/api/v1/oauth/grants/{unused['client_id']}/")).code == 404

    assert (await alice.delete(f"/api/v1/oauth/grants/{app['client_id']}")).code == 204
    assert (await alice.get("/api/v1/oauth/grants/")).json == []
    assert (await bearer(web_server, tokens["access_token"]).get(APPS)).code == 401
    refreshed = await exchange(
        web_server.client(), app, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.json["error"] == "invalid_grant"
    assert (await alice.delete(f"/api/v1/oauth/grants/{app['client_id']}/")).code == 404
    assert [a["client_id"] for a in (await bob.get("/api/v1/oauth/grants/")).json] == [app["client_id"]]


@pytest_twisted.ensureDeferred
async def test_clear_expired_deletes_only_what_is_dead(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    app = await register(web_server.client())
    await tokens_for(web_server, alice, app)  # live pair
    dead = await tokens_for(web_server, alice, app)
    await exchange(web_server.client(), app, grant_type="refresh_token", refresh_token=dead["refresh_token"])
    await authorize(alice, app)  # live code
    await authorize(alice, app)
    past = "now() - interval '1 second'"
    with db_conn.cursor() as cur:
        cur.execute(f"UPDATE oauth_grant SET expires = {past} WHERE id = (SELECT max(id) FROM oauth_grant)")
        cur.execute(
            f"UPDATE oauth_access_token SET expires = {past} WHERE id = (SELECT min(id) FROM oauth_access_token)"
        )

    # one expired code, one expired access token, one revoked refresh token
    assert await clear_expired(web_server.ctx) == 3
    with db_conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM oauth_grant) AS grants, (SELECT count(*) FROM oauth_access_token) AS access,"
            " (SELECT count(*) FROM oauth_refresh_token) AS refresh"
        )
        assert cur.fetchone() == {"grants": 1, "access": 1, "refresh": 2}
    assert await clear_expired(web_server.ctx) == 0
