"""Limits over HTTP: wrong passwords per account and per client address (counted before the check, so that
concurrent guesses cannot overshoot), the client address with and without a reverse proxy, the password checks
of password change and account deletion, sign-ups per address, and /api/v1/rate-limit/."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest_twisted
from twisted.internet.defer import Deferred, gatherResults

from . import factories
from .conftest import start_server

LOGIN = "/api/v1/users/login"
SIGNUP = "/api/v1/auth/registration/"
RIGHT = "password-1234"


def via_nginx(address: str, claimed: str | None = None) -> dict[str, str]:
    """The headers deploy/nginx.conf sends for a client at `address` that sent `X-Forwarded-For: claimed`."""
    return {"X-Real-IP": address, "X-Forwarded-For": f"{claimed}, {address}" if claimed else address}


async def attempt(client, username: str, password: str = "wrong-password", headers: dict | None = None) -> int:
    resp = await client.post(LOGIN, form={"username": username, "password": password}, headers=headers)
    return resp.code


async def with_csrf(client):
    """The client after its first page: it holds a csrftoken cookie (login needs the double submit)."""
    await client.get("/api/v1/rate-limit/")
    return client


@pytest_twisted.async_yield_fixture
async def proxied(settings):
    """The daemon behind a reverse proxy on 127.0.0.1 (a trusted proxy), login limit 3."""
    running = await start_server(dataclasses.replace(settings, reverse_proxy="nginx", login_rate_limit=3))
    yield running
    await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_the_31st_wrong_password_blocks_the_account_even_with_the_right_password(settings, db_conn):
    running = await start_server(dataclasses.replace(settings, reverse_proxy="nginx"))
    try:
        factories.insert_user(db_conn, "alice")
        client = await with_csrf(running.client())
        # Spread over many addresses: only the account's counter fills up.
        codes = [await attempt(client, "alice", headers=via_nginx(f"198.51.100.{i}")) for i in range(30)]
        assert codes == [400] * 30
        resp = await client.post(LOGIN, form={"username": "alice", "password": RIGHT}, headers=via_nginx("192.0.2.9"))
        assert resp.code == 429
        assert 3500 <= int(resp.header("Retry-After")) <= 3600
        assert "Too many failed login attempts" in resp.json["detail"]
        # Other accounts are not affected.
        factories.insert_user(db_conn, "bob")
        assert await attempt(client, "bob", RIGHT, via_nginx("192.0.2.9")) == 200
    finally:
        await running.service.stopService()


def login_scope(status: dict) -> dict:
    return next(s for s in status["scopes"] if s["id"] == "login")


@pytest_twisted.ensureDeferred
async def test_one_address_is_limited_across_accounts_and_rate_limit_reports_it(proxied, db_conn):
    factories.insert_user(db_conn, "alice")
    client = proxied.client()
    here = via_nginx("203.0.113.1")
    status = (await client.get("/api/v1/rate-limit/", headers=here)).json
    assert status["enabled"] is True
    assert status["ident"] == {"type": "anonymous", "id": "203.0.113.1"}
    scopes = {s["id"]: s for s in status["scopes"]}
    assert len(scopes) == 27 and scopes["subsonic"]["rate"] == "2000/hour"  # every scope 1.4 lists
    scope, signup = scopes["login"], scopes["signup"]
    assert scope["id"] == "login" and scope["rate"] == "3/hour" and scope["limit"] == 3
    assert scope["duration"] == 3600 and scope["remaining"] == 3
    assert scope["available"] is None and scope["reset"] is None
    assert signup["id"] == "signup" and signup["rate"] == "10/day" and signup["duration"] == 86400

    assert [await attempt(client, name, headers=here) for name in ("nobody", "ghost1", "alice")] == [400, 400, 400]
    assert await attempt(client, "alice", RIGHT, here) == 429
    scope = login_scope((await client.get("/api/v1/rate-limit/", headers=here)).json)
    assert scope["remaining"] == 0
    assert 0 < scope["available_seconds"] <= 3600 and scope["available"] > 0
    assert scope["reset_seconds"] == scope["available_seconds"]

    # Another address still gets in; its own standing is untouched, and a right password is not counted.
    there = via_nginx("192.0.2.7")
    assert await attempt(client, "alice", RIGHT, there) == 200
    status = (await client.get("/api/v1/rate-limit/", headers=there)).json
    assert status["ident"]["type"] == "authenticated"
    assert login_scope(status)["remaining"] == 2  # alice's account counter: one failure


@pytest_twisted.ensureDeferred
async def test_without_a_reverse_proxy_forwarded_headers_are_ignored(settings, db_conn):
    """127.0.0.1 is in FUNKWHALE_TRUSTED_PROXIES, but FUNKWHALE_REVERSE_PROXY=none says nothing is in front."""
    running = await start_server(dataclasses.replace(settings, login_rate_limit=2))
    try:
        client = await with_csrf(running.client())
        codes = [await attempt(client, "a", headers=via_nginx(f"198.51.100.{i}")) for i in range(3)]
        assert codes == [400, 400, 429]  # all counted against 127.0.0.1
        ident = (await client.get("/api/v1/rate-limit/", headers=via_nginx("1.2.3.4"))).json["ident"]
        assert ident == {"type": "anonymous", "id": "127.0.0.1"}
    finally:
        await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_forwarded_headers_are_ignored_from_untrusted_peers(settings, db_conn):
    running = await start_server(
        dataclasses.replace(settings, reverse_proxy="nginx", login_rate_limit=2, trusted_proxies=("10.9.9.0/24",))
    )
    try:
        client = await with_csrf(running.client())
        codes = [await attempt(client, "a", headers=via_nginx(f"198.51.100.{i}")) for i in range(3)]
        assert codes == [400, 400, 429]
    finally:
        await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_rotating_forwarded_for_behind_the_proxy_does_not_reset_the_limit(proxied, db_conn):
    client = await with_csrf(proxied.client())
    # The client writes what it likes into X-Forwarded-For; nginx appends the address it saw.
    codes = [await attempt(client, "a", headers=via_nginx("198.51.100.7", f"10.0.0.{i}")) for i in range(4)]
    assert codes == [400, 400, 400, 429]
    # Without X-Real-IP (another proxy), the rightmost hop that is not a trusted proxy counts.
    chain = {"X-Forwarded-For": "10.1.1.1, 198.51.100.7, 127.0.0.1"}
    assert await attempt(client, "a", headers=chain) == 429
    ident = (await client.get("/api/v1/rate-limit/", headers=chain)).json["ident"]
    assert ident == {"type": "anonymous", "id": "198.51.100.7"}


@pytest_twisted.ensureDeferred
async def test_a_spoofed_forwarded_for_cannot_lock_a_victim_out(proxied, db_conn):
    factories.insert_user(db_conn, "victim")
    attacker = await with_csrf(proxied.client())
    codes = [await attempt(attacker, f"guess{i}", headers=via_nginx("203.0.113.66", "192.0.2.50")) for i in range(5)]
    assert codes == [400, 400, 400, 429, 429]
    victim = await with_csrf(proxied.client())
    assert await attempt(victim, "victim", RIGHT, via_nginx("192.0.2.50")) == 200


@pytest_twisted.ensureDeferred
async def test_concurrent_guesses_run_at_most_the_limit_of_password_checks(client, db_conn):
    factories.insert_user(db_conn, "alice")
    await with_csrf(client)
    codes = await gatherResults([Deferred.fromCoroutine(attempt(client, "alice")) for _ in range(60)])
    assert Counter(codes) == {400: 30, 429: 30}


async def change_password(client, old: str) -> int:
    body = {"old_password": old, "new_password1": "new-password-9", "new_password2": "new-password-9"}
    return (await client.post("/api/v1/auth/password/change/", json_body=body)).code


@pytest_twisted.ensureDeferred
async def test_password_change_and_account_deletion_share_the_wrong_password_limit(proxied, db_conn):
    factories.insert_user(db_conn, "alice")
    client = proxied.client()
    await client.login("alice", RIGHT)
    assert [await change_password(client, "guess-1"), await change_password(client, "guess-2")] == [400, 400]
    resp = await client.delete("/api/v1/users/me/", json_body={"password": "guess-3", "confirm": True})
    assert resp.code == 400
    # Three wrong passwords: even the right one is refused now, wherever it is tried.
    assert await change_password(client, RIGHT) == 429
    resp = await client.delete("/api/v1/users/me/", json_body={"password": RIGHT, "confirm": True})
    assert resp.code == 429 and "Too many wrong passwords" in resp.json["detail"] and resp.header("Retry-After")
    assert await attempt(await with_csrf(proxied.client()), "alice", RIGHT, via_nginx("192.0.2.1")) == 429
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM users")
        assert cur.fetchone()["n"] == 1


def signup_form(name: str, password: str = "a-long-password-1") -> dict[str, str]:
    return {"username": name, "email": f"{name}@example.org", "password1": password, "password2": password}


@pytest_twisted.ensureDeferred
async def test_sign_ups_are_limited_per_address(settings, db_conn):
    running = await start_server(dataclasses.replace(settings, reverse_proxy="nginx", signup_rate_limit=2))
    try:
        client = running.client()
        here = via_nginx("198.51.100.20")
        refused = await client.post(SIGNUP, json_body=signup_form("typo", "short"), headers=here)
        assert refused.code == 400  # refused input does not count
        codes = [(await client.post(SIGNUP, json_body=signup_form(f"user{i}"), headers=here)).code for i in range(3)]
        assert codes == [201, 201, 429]
        resp = await client.post(SIGNUP, json_body=signup_form("user9"), headers=here)
        assert resp.code == 429 and 86000 < int(resp.header("Retry-After")) <= 86400
        there = await client.post(SIGNUP, json_body=signup_form("user9"), headers=via_nginx("198.51.100.21"))
        assert there.code == 201
    finally:
        await running.service.stopService()


RESET = "/api/v1/auth/password/reset/"
RESET_CONFIRM = "/api/v1/auth/password/reset/confirm/"


@pytest_twisted.ensureDeferred
async def test_password_resets_are_limited_per_address_and_mails_per_account(proxied, db_conn):
    from .test_email_flows import Outbox

    factories.insert_user(db_conn, "alice")
    client = proxied.client()
    with Outbox() as sent:
        # from many addresses, alice's mailbox still gets three links an hour; every answer is the same
        answers = [
            (await client.post(RESET, json_body={"email": "alice@example.org"}, headers=via_nginx(f"192.0.2.{i}")))
            for i in range(1, 6)
        ]
    assert [(a.code, a.json["detail"]) for a in answers] == [(200, "Password reset e-mail has been sent.")] * 5
    assert len(sent) == 3 and {m["To"] for m in sent} == {"alice@example.org"}

    here = via_nginx("203.0.113.5")
    codes = Counter(
        [(await client.post(RESET, json_body={"email": f"x{i}@example.org"}, headers=here)).code for i in range(21)]
    )
    assert codes == {200: 20, 429: 1}
    refused = await client.post(RESET, json_body={"email": "alice@example.org"}, headers=here)
    assert refused.code == 429 and 3500 < int(refused.header("Retry-After")) <= 3600
    assert refused.json["detail"].startswith("Too many password reset requests.")
    form = {"uid": "MQ", "token": "x-y", "new_password1": "a long secret", "new_password2": "a long secret"}
    confirms = Counter([(await client.post(RESET_CONFIRM, json_body=form, headers=here)).code for _ in range(21)])
    assert confirms == {400: 20, 429: 1}
    scopes = {s["id"]: s for s in (await client.get("/api/v1/rate-limit/", headers=here)).json["scopes"]}
    assert scopes["password-reset"]["remaining"] == 0 and scopes["password-reset"]["rate"] == "20/h"
    assert scopes["password-reset-confirm"]["remaining"] == 0 and len(scopes) == 27
    # another address is not held back
    there = await client.post(RESET, json_body={"email": "bob@example.org"}, headers=via_nginx("203.0.113.6"))
    assert there.code == 200
