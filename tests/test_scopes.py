"""Scopes over HTTP: administration needs the instance:* scope and the permission behind it; a token never
hands on (to an application token, a Subsonic password, a listen token) more than it holds itself."""

from __future__ import annotations

from typing import Any

import pytest_twisted

from . import catalog_factories as cf
from .subsonic_helpers import Subsonic
from .test_oauth import APPS, CALLBACK, authorize, bearer, exchange, logged_in, register

SETTINGS = "/api/v1/instance/admin/settings/"
NAME = f"{SETTINGS}instance__name/"


async def token_of(session: Any, scopes: str) -> str:
    """A personal application token with `scopes`, made by the logged-in `session`."""
    return (await register(session, scopes=scopes, redirect_uris="urn:ietf:wg:oauth:2.0:oob"))["token"]


async def admin_codes(client: Any) -> tuple[int, int, int, int]:
    """(list, bulk save, read one, save one) answers of the admin settings endpoints for `client`."""
    return (
        (await client.get(SETTINGS)).code,
        (await client.post(SETTINGS, json_body={"instance__name": "Changed"})).code,
        (await client.get(NAME)).code,
        (await client.patch(NAME, json_body={"value": "Changed"})).code,
    )


@pytest_twisted.ensureDeferred
async def test_admin_settings_need_the_instance_settings_scope(web_server, db_conn):
    admin, user = logged_in(web_server, db_conn, "root")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET is_superuser = true WHERE id = %s", (user["id"],))
    cf.auth_changed()
    unrelated = bearer(web_server, await token_of(admin, "read:favorites write:favorites"))
    assert await admin_codes(unrelated) == (403, 403, 403, 403)
    reader = bearer(web_server, await token_of(admin, "read:instance:settings"))
    assert await admin_codes(reader) == (200, 403, 200, 403)
    writer = bearer(web_server, await token_of(admin, "read:instance:settings write:instance:settings"))
    assert await admin_codes(writer) == (200, 200, 200, 200)
    assert await admin_codes(bearer(web_server, await token_of(admin, "read write"))) == (200, 200, 200, 200)
    assert await admin_codes(admin) == (200, 200, 200, 200)  # a session has every scope

    resp = await unrelated.get(SETTINGS)
    assert resp.json == {"detail": "Your token lacks the read:instance:settings scope.", "code": "permission_denied"}


@pytest_twisted.ensureDeferred
async def test_instance_scopes_follow_the_account_permission(web_server, db_conn):
    alice, user = logged_in(web_server, db_conn, "alice")
    token = bearer(web_server, await token_of(alice, "read write"))
    assert await admin_codes(alice) == (403, 403, 403, 403)
    assert await admin_codes(token) == (403, 403, 403, 403)
    assert (await token.get(SETTINGS)).json["detail"] == "You do not have permission to perform this action."
    with db_conn.cursor() as cur:  # Funkwhale's "settings" permission, without being a superuser
        cur.execute("UPDATE users SET permission_settings = true WHERE id = %s", (user["id"],))
    cf.auth_changed()
    assert await admin_codes(alice) == (200, 200, 200, 200)
    assert await admin_codes(token) == (200, 200, 200, 200)


@pytest_twisted.ensureDeferred
async def test_a_security_token_cannot_mint_wider_scopes(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    security = bearer(web_server, await token_of(alice, "read:security write:security"))
    for scopes in ("read write", "read:favorites", "write:instance:settings"):
        resp = await security.post(APPS, json_body={"name": "Wider", "redirect_uris": CALLBACK, "scopes": scopes})
        assert resp.code == 403 and resp.json["code"] == "permission_denied", scopes
    resp = await security.post(APPS, json_body={"name": "x", "scopes": "read:favorites"})
    assert resp.json["detail"] == "Your token cannot grant scopes it does not hold: read:favorites."
    narrower = await security.post(
        APPS, json_body={"name": "Same", "redirect_uris": CALLBACK, "scopes": "read:security"}
    )
    assert narrower.code == 201 and narrower.json["scopes"] == "read:security"

    # Nor by widening an application it owns, nor by taking a new token for a wider one.
    resp = await security.patch(f"{APPS}{narrower.json['client_id']}/", json_body={"scopes": "read write"})
    assert resp.code == 403
    assert (await alice.get(f"{APPS}{narrower.json['client_id']}/")).json["scopes"] == "read:security"
    wide = await register(alice, scopes="read write")
    assert (await security.post(f"{APPS}{wide['client_id']}/refresh-token")).code == 403
    assert (await bearer(web_server, wide["token"]).get("/api/v1/users/me/")).code == 200  # still the old token
    renewed = await alice.post(f"{APPS}{wide['client_id']}/refresh-token")
    assert renewed.code == 200

    # The Subsonic password acts for the whole account: a partial token can neither read nor set it.
    subsonic = "/api/v1/users/alice/subsonic-token/"
    assert (await security.get(subsonic)).code == 403
    assert (await security.post(subsonic)).code == 403
    assert (await security.delete(subsonic)).code == 204  # taking access away is fine
    assert (await alice.post(subsonic)).code == 200
    assert (await bearer(web_server, renewed.json["token"]).get(subsonic)).code == 200  # "read write" holds everything


@pytest_twisted.ensureDeferred
async def test_an_oauth_token_is_held_to_its_application_scopes(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    app = await register(web_server.client(), scopes="read write")
    code = await authorize(alice, app, scope="read write")
    tokens = (
        await exchange(web_server.client(), app, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    ).json
    as_app = bearer(web_server, tokens["access_token"])
    assert (await as_app.get("/api/v1/favorites/tracks/")).code == 200
    with db_conn.cursor() as cur:  # the application now asks for less: its tokens shrink with it
        cur.execute("UPDATE oauth_application SET scope = 'read:profile' WHERE id = %s", (app_id(db_conn, app),))
    cf.auth_changed()
    assert (await as_app.get("/api/v1/favorites/tracks/")).code == 403
    assert (await as_app.get("/api/v1/users/me/")).code == 200


def app_id(db_conn: Any, app: dict) -> int:
    with db_conn.cursor() as cur:
        cur.execute("SELECT id FROM oauth_application WHERE client_id = %s", (app["client_id"],))
        return cur.fetchone()["id"]


@pytest_twisted.ensureDeferred
async def test_the_listen_token_comes_only_with_read_libraries(web_server, db_conn):
    alice, _ = logged_in(web_server, db_conn, "alice")
    profile = bearer(web_server, await token_of(alice, "read:profile"))
    assert (await profile.get("/api/v1/users/me/")).json["tokens"] == {}
    both = bearer(web_server, await token_of(alice, "read:profile read:libraries"))
    assert set((await both.get("/api/v1/users/me/")).json["tokens"]) == {"listen"}


@pytest_twisted.ensureDeferred
async def test_subsonic_methods_that_reveal_activity_or_accounts_need_their_scope(web_server, db_conn):
    alice, user = logged_in(web_server, db_conn, "alice")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET is_superuser = true WHERE id = %s", (user["id"],))
    cf.auth_changed()
    api = Subsonic(web_server)
    library_only = {"apiKey": await token_of(alice, "read:libraries read:profile")}
    assert (await api.json("getAlbumList2", {"type": "newest"}, auth=library_only))["status"] == "ok"
    for method, params in (
        ("getStarred2", {}),
        ("getStarred", {}),
        ("getAlbumList2", {"type": "starred"}),
        ("getAlbumList", {"type": "recent"}),
        ("getAlbumList2", {"type": "frequent"}),
        ("getUsers", {}),
        ("getUser", {"username": "someone"}),
        ("startScan", {}),
    ):
        assert (await api.json(method, params, auth=library_only))["error"]["code"] == 50, method
    everything = {"apiKey": await token_of(alice, "read write")}
    for method, params in (("getStarred2", {}), ("getAlbumList2", {"type": "recent"}), ("getUsers", {})):
        assert (await api.json(method, params, auth=everything))["status"] == "ok", method
