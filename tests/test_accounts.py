"""Sign-up, login, sessions and CSRF, the caller's profile, password change and Subsonic tokens, over HTTP."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest_twisted
from cryptography.hazmat.primitives import serialization

from funkwhale.users import accounts
from funkwhale.users.passwords import verify_password

from . import factories
from .catalog_factories import set_preference
from .conftest import start_server

SIGNUP = "/api/v1/auth/registration/"
PASSWORD = "correct horse battery"


def signup_form(username: str, **extra: str) -> dict[str, str]:
    return {
        "username": username,
        "email": f"{username}@example.org",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **extra,
    }


def set_pref(db_conn, name: str, value) -> None:
    set_preference(db_conn, name, value)


def count(db_conn, table: str) -> int:
    with db_conn.cursor() as cur:
        cur.execute(f"SELECT count(*) AS n FROM {table}")
        return cur.fetchone()["n"]


def user_row(db_conn, username: str) -> dict | None:
    with db_conn.cursor() as cur:
        cur.execute(
            "SELECT u.*, a.fid, a.inbox_url, a.shared_inbox_url, a.public_key, a.private_key, a.domain "
            "FROM users u LEFT JOIN actor a ON a.id = u.actor_id WHERE u.username = %s",
            (username,),
        )
        return cur.fetchone()


def insert_invitation(db_conn, owner_id: int, code: str, expires_in: timedelta = timedelta(days=1)) -> None:
    with db_conn.cursor() as cur:
        cur.execute(
            "INSERT INTO invitation (code, owner_id, expiration_date) VALUES (%s, %s, %s)",
            (code, owner_id, datetime.now(UTC) + expires_in),
        )


# --- sign-up -----------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_first_signup_is_an_administrator_with_an_actor_and_later_ones_are_not(client, db_conn):
    resp = await client.post(SIGNUP, json_body=signup_form("Alice"))
    assert resp.code == 201, resp
    assert resp.json["username"] == "Alice"
    row = user_row(db_conn, "Alice")
    assert row["is_superuser"] and row["is_staff"]
    assert row["permission_library"] and row["permission_moderation"] and row["permission_settings"]
    assert row["subsonic_api_token"] is None
    assert row["password"].startswith("$argon2id$") and verify_password(row["password"], PASSWORD)[0]
    assert row["fid"] == "http://test.funkwhale.local/federation/actors/Alice"
    assert row["inbox_url"] == "http://test.funkwhale.local/federation/actors/Alice/inbox"
    assert row["shared_inbox_url"] == "http://test.funkwhale.local/federation/shared/inbox"
    assert row["domain"] == "test.funkwhale.local"
    assert row["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    key = serialization.load_pem_private_key(row["private_key"].encode(), password=None)
    assert key.key_size == 2048

    resp = await client.post(SIGNUP, form=signup_form("bob"))
    assert resp.code == 201, resp
    row = user_row(db_conn, "bob")
    assert not row["is_superuser"] and not row["is_staff"] and not row["permission_settings"]
    assert count(db_conn, "domain") == 1


@pytest_twisted.ensureDeferred
async def test_closed_registration_refuses_but_the_first_account_still_gets_in(client, db_conn):
    set_pref(db_conn, "users__registration_enabled", False)
    resp = await client.post(SIGNUP, json_body=signup_form("founder"))
    assert resp.code == 201, resp
    assert user_row(db_conn, "founder")["is_superuser"]

    resp = await client.post(SIGNUP, json_body=signup_form("latecomer"))
    assert resp.code == 403
    assert resp.json["detail"] == "Registration has been disabled"
    assert count(db_conn, "users") == 1 and count(db_conn, "actor WHERE type <> 'Service'") == 1


@pytest_twisted.ensureDeferred
async def test_invitation_codes_admit_once_while_registration_is_closed(client, db_conn):
    set_pref(db_conn, "users__registration_enabled", False)
    owner = factories.insert_user(db_conn, "owner", is_superuser=True)
    insert_invitation(db_conn, owner["id"], "WELCOME1")
    insert_invitation(db_conn, owner["id"], "OLDCODE", expires_in=timedelta(days=-1))

    resp = await client.post(SIGNUP, json_body=signup_form("late", invitation="oldcode"))
    assert resp.code == 400 and resp.json["invitation"] == ["Invalid invitation code"]
    resp = await client.post(SIGNUP, json_body=signup_form("guest", invitation="welcome1"))
    assert resp.code == 201, resp
    assert not user_row(db_conn, "guest")["is_superuser"]
    resp = await client.post(SIGNUP, json_body=signup_form("second", invitation="WELCOME1"))
    assert resp.code == 400 and resp.json["invitation"] == ["Invalid invitation code"]
    assert count(db_conn, "users") == 2


@pytest_twisted.ensureDeferred
async def test_duplicates_are_refused_case_insensitively_with_nothing_written(client, db_conn):
    factories.insert_user(db_conn, "alice", email="alice@example.org")
    resp = await client.post(SIGNUP, json_body=signup_form("ALICE", email="other@example.org"))
    assert resp.code == 400
    assert resp.json["username"] == ["A user with that username already exists."]
    resp = await client.post(SIGNUP, json_body=signup_form("carol", email="Alice@Example.ORG"))
    assert resp.code == 400
    assert resp.json["email"] == ["A user is already registered with this e-mail address."]
    assert count(db_conn, "users") == 1 and count(db_conn, "actor WHERE type <> 'Service'") == 0


@pytest_twisted.ensureDeferred
async def test_invalid_sign_up_forms_get_field_errors(client, db_conn):
    resp = await client.post(SIGNUP, json_body={"username": "bad name!", "email": "nope", "password1": "123"})
    assert resp.code == 400
    assert "English letters" in resp.json["username"][0]
    assert resp.json["email"] == ["Enter a valid email address."]
    assert resp.json["password2"] == ["This field is required."]
    assert resp.json["password1"] == [
        "This password is too short. It must contain at least 8 characters.",
        "This password is entirely numeric.",
    ]
    resp = await client.post(
        SIGNUP, json_body=signup_form("davidson", password1="Davidson1", password2="Davidson1")
    )
    assert resp.json["password1"] == ["The password is too similar to the username."]
    resp = await client.post(SIGNUP, json_body=signup_form("dave", password2="something else"))
    assert resp.json["non_field_errors"] == ["The two password fields didn't match."]
    resp = await client.post(SIGNUP, json_body=signup_form("service"))
    assert resp.code == 400 and "username" in resp.json
    resp = await client.post(SIGNUP, data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.code == 400 and resp.json["code"] == "parse_error"
    assert count(db_conn, "users") == 0


# --- login, logout, CSRF -----------------------------------------------------------------------------


def set_cookie_headers(resp) -> list[str]:
    return resp.headers.getRawHeaders("set-cookie") or []


@pytest_twisted.ensureDeferred
async def test_login_sets_session_and_csrf_cookies_and_logout_ends_the_session(client, db_conn):
    factories.insert_user(db_conn, "alice")
    resp = await client.get("/api/v1/instance/settings/")
    anonymous_csrf = client.cookie("csrftoken")
    assert anonymous_csrf and "HttpOnly" not in set_cookie_headers(resp)[0]

    resp = await client.post("/api/v1/users/login", form={"username": "ALICE", "password": "password-1234"})
    assert resp.code == 200, resp
    cookies = {c.split("=", 1)[0]: c for c in set_cookie_headers(resp)}
    assert "HttpOnly" in cookies["sessionid"] and "SameSite=lax" in cookies["sessionid"]
    assert "Path=/" in cookies["sessionid"] and "Secure" not in cookies["sessionid"]
    assert "HttpOnly" not in cookies["csrftoken"]
    assert client.cookie("csrftoken") != anonymous_csrf
    with db_conn.cursor() as cur:
        cur.execute("SELECT key_hash, csrf_token FROM session")
        (session,) = cur.fetchall()
    assert session["csrf_token"] == client.cookie("csrftoken")
    assert session["key_hash"] != client.cookie("sessionid") and len(session["key_hash"]) == 64

    me = await client.get("/api/v1/users/me/")
    assert me.code == 200 and me.json["username"] == "alice"

    resp = await client.post("/api/v1/users/logout/")
    assert resp.code == 200
    assert count(db_conn, "session") == 0
    assert client.cookie("sessionid") is None
    assert (await client.get("/api/v1/users/me")).code == 401


@pytest_twisted.ensureDeferred
async def test_login_by_email_and_refusals(client, db_conn):
    factories.insert_user(db_conn, "alice")
    factories.insert_user(db_conn, "sleeper", is_active=False)
    await client.get("/api/v1/instance/settings/")  # the CSRF cookie, as the web app has it before logging in
    resp = await client.post(
        "/api/v1/users/login/", json_body={"username": "alice", "password": "wrong-pass"}
    )
    assert resp.code == 400
    assert resp.json["non_field_errors"] == ["Unable to log in with provided credentials."]
    resp = await client.post("/api/v1/users/login", form={"username": "sleeper", "password": "password-1234"})
    assert resp.code == 400
    resp = await client.post("/api/v1/users/login", form={"username": "nobody", "password": "password-1234"})
    assert resp.code == 400
    resp = await client.post("/api/v1/users/login", form={"username": "alice"})
    assert resp.code == 400 and resp.json["password"] == ["This field is required."]
    assert count(db_conn, "session") == 0
    resp = await client.post(
        "/api/v1/users/login", form={"username": "ALICE@example.org", "password": "password-1234"}
    )
    assert resp.code == 200


@pytest_twisted.ensureDeferred
async def test_session_writes_need_the_csrf_header(client, db_conn):
    factories.insert_user(db_conn, "alice")
    await client.login("alice", "password-1234")
    resp = await client.patch(
        "/api/v1/users/me/", json_body={"name": "Al"}, headers={"X-CSRFToken": "forged"}
    )
    assert resp.code == 403
    with db_conn.cursor() as cur:
        cur.execute("SELECT name FROM users")
        assert cur.fetchone()["name"] == ""
    # A csrftoken cookie without a matching header: login refuses too.
    resp = await client.post(
        "/api/v1/users/login",
        form={"username": "alice", "password": "password-1234"},
        headers={"X-CSRFToken": "x"},
    )
    assert resp.code == 403
    resp = await client.patch("/api/v1/users/me/", json_body={"name": "Al"})
    assert resp.code == 200 and resp.json["name"] == "Al"


@pytest_twisted.ensureDeferred
async def test_login_needs_the_csrf_double_submit(server, db_conn):
    """A cross-site form cannot log the browser into another account: it can neither read nor set our cookie."""
    factories.insert_user(db_conn, "alice")
    form = {"username": "alice", "password": "password-1234"}
    cross_site = server.client()  # a form posted from another site: no csrftoken cookie reaches us
    resp = await cross_site.post("/api/v1/users/login", form=form)
    assert resp.code == 403 and resp.json["detail"] == "CSRF Failed: CSRF token missing or incorrect."
    assert count(db_conn, "session") == 0

    browser = server.client()
    await browser.get("/api/v1/instance/settings/")
    token = browser.cookie("csrftoken")
    for refused in ({"X-CSRFToken": ""}, {"X-CSRFToken": "forged"}):
        assert (await browser.post("/api/v1/users/login", form=form, headers=refused)).code == 403
    resp = await browser.post("/api/v1/users/login", form={**form, "csrfmiddlewaretoken": "forged"},
                              headers={"X-CSRFToken": ""})  # fmt: skip
    assert resp.code == 403
    assert count(db_conn, "session") == 0
    # Django's two ways: the form field, or the header.
    resp = await browser.post("/api/v1/users/login", form={**form, "csrfmiddlewaretoken": token},
                              headers={"X-CSRFToken": ""})  # fmt: skip
    assert resp.code == 200
    assert (await browser.post("/api/v1/users/login", form=form)).code == 200


@pytest_twisted.ensureDeferred
async def test_login_rehashes_passwords_made_with_older_parameters(client, db_conn):
    old = factories.insert_user(db_conn, "alice")["password"]  # cheap test parameters
    await client.login("alice", "password-1234")
    new = user_row(db_conn, "alice")["password"]
    assert new != old and verify_password(new, "password-1234") == (True, None)


# --- me ----------------------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_me_shows_the_account_and_patch_validates(client, db_conn):
    assert (await client.get("/api/v1/users/me/")).code == 401
    await client.post(SIGNUP, json_body=signup_form("alice"))
    await client.login("alice", PASSWORD)
    me = (await client.get("/api/v1/users/me/")).json
    assert me["full_username"] == "alice@test.funkwhale.local"
    assert me["permissions"] == {"library": True, "moderation": True, "settings": True}
    assert me["privacy_level"] == "instance" and me["avatar"] is None and me["summary"] is None
    assert me["email"] == "alice@example.org" and me["tokens"]["listen"]
    assert {"id", "date_joined", "is_staff", "is_superuser", "name", "settings"} <= set(me)

    resp = await client.patch("/api/v1/users/me/", json_body={"privacy_level": "nobody", "name": "A"})
    assert resp.code == 400 and resp.json["privacy_level"] == ['"nobody" is not a valid choice.']
    assert user_row(db_conn, "alice")["name"] == ""
    resp = await client.patch(
        "/api/v1/users/alice/",
        json_body={"privacy_level": "me", "name": "Alice A.", "summary": {"text": "Hi"}},
    )
    assert resp.code == 200
    assert resp.json["privacy_level"] == "me" and resp.json["name"] == "Alice A."
    assert resp.json["summary"]["text"] == "Hi"
    resp = await client.patch("/api/v1/users/users/alice/", json_body={"name": "Alias"})
    assert resp.code == 200 and resp.json["name"] == "Alias"
    factories.insert_user(db_conn, "bob")
    assert (await client.patch("/api/v1/users/bob/", json_body={"name": "B"})).code == 403


@pytest_twisted.ensureDeferred
async def test_delete_me_needs_the_password_and_confirmation(client, db_conn):
    factories.insert_user(db_conn, "alice")
    await client.login("alice", "password-1234")
    resp = await client.delete("/api/v1/users/me/", json_body={"password": "wrong", "confirm": True})
    assert resp.code == 400 and resp.json["password"] == ["Invalid password"]
    resp = await client.delete("/api/v1/users/me/", json_body={"password": "password-1234"})
    assert resp.code == 400 and resp.json["confirm"] == ["Please confirm deletion"]
    assert count(db_conn, "users") == 1
    resp = await client.delete("/api/v1/users/me/", json_body={"password": "password-1234", "confirm": True})
    assert resp.code == 204
    assert count(db_conn, "users") == 0 and count(db_conn, "session") == 0
    assert (await client.get("/api/v1/users/me/")).code == 401


# --- password change ---------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_password_change_keeps_this_session_and_ends_the_others(server, db_conn):
    factories.insert_user(db_conn, "alice")
    here, elsewhere = server.client(), server.client()
    await here.login("alice", "password-1234")
    await elsewhere.login("alice", "password-1234")
    secret = user_row(db_conn, "alice")["secret_key"]

    resp = await here.post(
        "/api/v1/auth/password/change/",
        json_body={
            "old_password": "nope",
            "new_password1": "new-password-9",
            "new_password2": "new-password-9",
        },
    )
    assert resp.code == 400 and "old_password" in resp.json
    resp = await here.post(
        "/api/v1/auth/password/change",
        json_body={
            "old_password": "password-1234",
            "new_password1": "new-password-9",
            "new_password2": "other",
        },
    )
    assert resp.code == 400 and "new_password2" in resp.json
    assert (await elsewhere.get("/api/v1/users/me/")).code == 200

    resp = await here.post(
        "/api/v1/auth/password/change/",
        json_body={
            "old_password": "password-1234",
            "new_password1": "new-password-9",
            "new_password2": "new-password-9",
        },
    )
    assert resp.code == 200, resp
    assert (await here.get("/api/v1/users/me/")).code == 200
    assert (await elsewhere.get("/api/v1/users/me/")).code == 401
    assert user_row(db_conn, "alice")["secret_key"] != secret
    fresh = server.client()
    await fresh.login("alice", "new-password-9")


# --- subsonic token ----------------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_subsonic_token_lifecycle_for_oneself_only(client, db_conn):
    factories.insert_user(db_conn, "alice")
    factories.insert_user(db_conn, "bob")
    await client.login("alice", "password-1234")
    url = "/api/v1/users/alice/subsonic-token/"
    assert (await client.get(url)).json == {"subsonic_api_token": None}
    first = (await client.post(url)).json["subsonic_api_token"]
    assert len(first) >= 24
    assert (await client.get(url)).json == {"subsonic_api_token": first}
    second = (await client.post(url)).json["subsonic_api_token"]
    assert second != first
    assert user_row(db_conn, "alice")["subsonic_api_token"] == second
    assert (await client.get("/api/v1/users/bob/subsonic-token/")).code == 403
    assert (await client.post("/api/v1/users/bob/subsonic-token/")).code == 403
    assert user_row(db_conn, "bob")["subsonic_api_token"] is None
    assert (await client.delete(url)).code == 204
    assert (await client.get(url)).json == {"subsonic_api_token": None}
    set_pref(db_conn, "subsonic__enabled", False)
    assert (await client.post(url)).code == 405


@pytest_twisted.ensureDeferred
async def test_cookies_are_secure_when_the_public_url_is_https(settings):
    running = await start_server(dataclasses.replace(settings, protocol="https"))
    try:
        resp = await running.client().get("/api/v1/instance/settings/")
        (cookie,) = set_cookie_headers(resp)
        assert cookie.startswith("csrftoken=") and "Secure" in cookie and "SameSite=lax" in cookie
        resp = await running.client().get("/api/v1/users/me/", headers={"Cookie": "csrftoken=already"})
        assert set_cookie_headers(resp) == []
    finally:
        await running.service.stopService()


def test_listen_tokens_are_signed_bound_to_the_user_secret_and_expire(settings):
    now = datetime.now(UTC)
    token = accounts.listen_token(settings, 7, "secret-uuid", now)
    claims = accounts.read_listen_token(settings, token, now + timedelta(days=1))
    assert claims["user_id"] == 7 and claims["user_secret"] == "secret-uuid"
    assert claims["scopes"] == ["read:libraries"]
    assert accounts.read_listen_token(settings, token, now + timedelta(days=4)) is None
    payload, _, signature = token.partition(".")
    assert accounts.read_listen_token(settings, payload + "x." + signature, now) is None
    other = dataclasses.replace(settings, secret_key="another-key")
    assert accounts.read_listen_token(other, token, now) is None


@pytest_twisted.ensureDeferred
async def test_auth_user_is_dj_rest_auths_user_details(client, db_conn):
    assert (await client.get("/api/v1/auth/user/")).code == 401
    await client.post(SIGNUP, json_body=signup_form("alice"))
    await client.login("alice", PASSWORD)
    resp = await client.get("/api/v1/auth/user/")
    alice = user_row(db_conn, "alice")
    expected = {"pk": alice["id"], "username": "alice", "email": "alice@example.org", "first_name": "", "last_name": ""}
    assert resp.code == 200 and resp.json == expected, resp
    resp = await client.put("/api/v1/auth/user/", json_body={"first_name": ""})
    assert resp.code == 400 and "username" in resp.json, resp
    resp = await client.patch("/api/v1/auth/user/", json_body={"username": "mallory"})
    assert resp.code == 400 and "username" in resp.json, resp
    resp = await client.patch("/api/v1/auth/user/", json_body={"last_name": "A."})
    assert resp.code == 400 and "last_name" in resp.json, resp
    resp = await client.put("/api/v1/auth/user/", json_body={"username": "alice", "first_name": ""})
    assert resp.code == 200 and resp.json == expected, resp
    assert user_row(db_conn, "alice")["username"] == "alice"
