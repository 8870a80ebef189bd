"""Failed-login limits per account and per client address, and /api/v1/rate-limit/, over HTTP."""

from __future__ import annotations

import dataclasses

import pytest_twisted

from . import factories
from .conftest import start_server

LOGIN = "/api/v1/users/login"


async def fail(client, username: str, address: str = "203.0.113.1") -> int:
    resp = await client.post(
        LOGIN, form={"username": username, "password": "wrong-password"}, headers={"X-Forwarded-For": address}
    )
    return resp.code


@pytest_twisted.ensureDeferred
async def test_the_31st_failed_login_is_refused_even_with_the_right_password(client, db_conn):
    factories.insert_user(db_conn, "alice")
    # Spread over many addresses: only the account's counter fills up.
    codes = [await fail(client, "alice", f"198.51.100.{i}") for i in range(30)]
    assert codes == [400] * 30
    resp = await client.post(
        LOGIN,
        form={"username": "alice", "password": "password-1234"},
        headers={"X-Forwarded-For": "192.0.2.9"},
    )
    assert resp.code == 429
    assert 3500 <= int(resp.header("Retry-After")) <= 3600
    assert "Too many failed login attempts" in resp.json["detail"]
    # Other accounts are not affected.
    factories.insert_user(db_conn, "bob")
    resp = await client.post(LOGIN, form={"username": "bob", "password": "password-1234"})
    assert resp.code == 200


@pytest_twisted.async_yield_fixture
async def strict_server(settings):
    running = await start_server(dataclasses.replace(settings, login_rate_limit=3))
    yield running
    await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_one_address_is_limited_across_accounts_and_rate_limit_reports_it(strict_server, db_conn):
    factories.insert_user(db_conn, "alice")
    client = strict_server.client()
    status = (await client.get("/api/v1/rate-limit/", headers={"X-Forwarded-For": "203.0.113.1"})).json
    assert status["enabled"] is True
    assert status["ident"] == {"type": "anonymous", "id": "203.0.113.1"}
    (scope,) = status["scopes"]
    assert scope["id"] == "login" and scope["rate"] == "3/hour" and scope["limit"] == 3
    assert scope["duration"] == 3600 and scope["remaining"] == 3
    assert scope["available"] is None and scope["reset"] is None

    assert [await fail(client, name) for name in ("nobody", "ghost1", "alice")] == [400, 400, 400]
    resp = await client.post(
        LOGIN,
        form={"username": "alice", "password": "password-1234"},
        headers={"X-Forwarded-For": "203.0.113.1, 10.0.0.1"},
    )
    assert resp.code == 429
    (scope,) = (await client.get("/api/v1/rate-limit/", headers={"X-Forwarded-For": "203.0.113.1"})).json[
        "scopes"
    ]
    assert scope["remaining"] == 0
    assert 0 < scope["available_seconds"] <= 3600 and scope["available"] > 0
    assert scope["reset_seconds"] == scope["available_seconds"]

    # Another address still gets in; its own standing is untouched.
    resp = await client.post(
        LOGIN,
        form={"username": "alice", "password": "password-1234"},
        headers={"X-Forwarded-For": "192.0.2.7"},
    )
    assert resp.code == 200
    status = (await client.get("/api/v1/rate-limit/", headers={"X-Forwarded-For": "192.0.2.7"})).json
    assert status["ident"]["type"] == "authenticated"
    assert status["scopes"][0]["remaining"] == 2  # alice's account counter: one failure


@pytest_twisted.ensureDeferred
async def test_forwarded_for_is_ignored_from_untrusted_peers(settings, db_conn):
    running = await start_server(
        dataclasses.replace(settings, login_rate_limit=2, trusted_proxies=("10.9.9.9",))
    )
    try:
        client = running.client()
        assert await fail(client, "a", "198.51.100.1") == 400
        assert await fail(client, "b", "198.51.100.2") == 400
        assert await fail(client, "c", "198.51.100.3") == 429  # all counted against 127.0.0.1
        ident = (await client.get("/api/v1/rate-limit/", headers={"X-Forwarded-For": "1.2.3.4"})).json[
            "ident"
        ]
        assert ident == {"type": "anonymous", "id": "127.0.0.1"}
    finally:
        await running.service.stopService()
