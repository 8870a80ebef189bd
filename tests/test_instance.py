"""Instance settings and NodeInfo, over HTTP."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta

import pytest
import pytest_twisted

from funkwhale.instance.settings import registration_mode

from . import factories
from .catalog_factories import set_preference

# Logging in needs the accounts area (funkwhale.users.store and /api/v1/users/login).
needs_accounts = pytest.mark.skipif(
    importlib.util.find_spec("funkwhale.users.store") is None, reason="accounts not built yet"
)


def _by_id(listing: list[dict]) -> dict[str, dict]:
    return {item["identifier"]: item for item in listing}


def _store(db_conn, name: str, value) -> None:
    set_preference(db_conn, name, value)


@pytest_twisted.ensureDeferred
async def test_public_settings_list_public_preferences_with_defaults_from_settings(client):
    resp = await client.get("/api/v1/instance/settings/")
    assert resp.code == 200
    prefs = _by_id(resp.json)
    name = prefs["instance__name"]
    assert name["section"] == "instance" and name["name"] == "name"
    assert name["value"] == "Funkwhale" and name["default"] == "Funkwhale"
    assert set(name) == {
        "section",
        "name",
        "identifier",
        "default",
        "value",
        "verbose_name",
        "help_text",
        "additional_data",
        "field",
    }
    assert prefs["users__registration_enabled"]["value"] is True  # FUNKWHALE_REGISTRATION=open in the fixture
    assert prefs["users__upload_quota"]["value"] == 10000
    assert prefs["moderation__unauthenticated_report_types"]["additional_data"]["choices"][0] == [
        "takedown_request",
        "Takedown request",
    ]
    assert "instance__nodeinfo_private" not in prefs  # an admin-only preference


@pytest_twisted.ensureDeferred
async def test_stored_values_override_defaults_and_registration_mode(server, client, db_conn):
    assert await registration_mode(server.ctx) == "open"
    _store(db_conn, "users__registration_enabled", False)
    _store(db_conn, "instance__short_description", "Music by friends")
    prefs = _by_id((await client.get("/api/v1/instance/settings")).json)
    assert prefs["users__registration_enabled"]["value"] is False
    assert prefs["users__registration_enabled"]["default"] is True
    assert prefs["instance__short_description"]["value"] == "Music by friends"
    assert await registration_mode(server.ctx) == "closed"


@needs_accounts
@pytest_twisted.ensureDeferred
async def test_admin_settings_need_a_superuser(client, db_conn):
    assert (await client.get("/api/v1/instance/admin/settings/")).code == 401
    factories.insert_user(db_conn, "alice")
    await client.login("alice", "password-1234")
    assert (await client.get("/api/v1/instance/admin/settings/")).code == 403
    resp = await client.post("/api/v1/instance/admin/settings/", json_body={"instance__name": "Mine"})
    assert resp.code == 403
    prefs = _by_id((await client.get("/api/v1/instance/settings/")).json)
    assert prefs["instance__name"]["value"] == "Funkwhale"


@needs_accounts
@pytest_twisted.ensureDeferred
async def test_superuser_changes_settings_all_or_nothing(client, db_conn):
    factories.insert_user(db_conn, "root", is_superuser=True, is_staff=True)
    await client.login("root", "password-1234")
    listing = _by_id((await client.get("/api/v1/instance/admin/settings/")).json)
    assert listing["instance__nodeinfo_private"]["value"] is False

    resp = await client.post(
        "/api/v1/instance/admin/settings/bulk/",
        json_body={"instance__name": "Not saved", "users__upload_quota": "many"},
    )
    assert resp.code == 400
    assert resp.json["users__upload_quota"] == ["A valid integer is required."]

    resp = await client.post(
        "/api/v1/instance/admin/settings/",
        json_body={"instance__name": "Riverside", "users__registration_enabled": False},
    )
    assert resp.code == 200
    assert _by_id(resp.json)["instance__name"]["value"] == "Riverside"
    resp = await client.patch("/api/v1/instance/admin/settings/users__upload_quota/", json_body={"value": 50})
    assert resp.code == 200 and resp.json["value"] == 50

    public = _by_id((await client.get("/api/v1/instance/settings/")).json)
    assert public["instance__name"]["value"] == "Riverside"
    assert public["users__upload_quota"]["value"] == 50
    nodeinfo = (await client.get("/api/v1/instance/nodeinfo/2.0/")).json
    assert nodeinfo["openRegistrations"] is False
    assert nodeinfo["metadata"]["nodeName"] == "Riverside"


@pytest_twisted.ensureDeferred
async def test_well_known_nodeinfo_links_both_versions(client):
    resp = await client.get("/.well-known/nodeinfo")
    assert resp.code == 200
    assert resp.json == {
        "links": [
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.0",
                "href": "http://test.funkwhale.local/api/v1/instance/nodeinfo/2.0/",
            },
            {
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                "href": "http://test.funkwhale.local/api/v2/instance/nodeinfo/2.1/",
            },
        ]
    }


@pytest_twisted.ensureDeferred
async def test_nodeinfo_counts_users_by_activity(client, db_conn):
    now = datetime.now(UTC)
    factories.insert_user(db_conn, "recent", last_activity=now - timedelta(days=2))
    factories.insert_user(db_conn, "spring", last_activity=now - timedelta(days=90))
    factories.insert_user(db_conn, "ancient", last_login=now - timedelta(days=400))
    factories.insert_user(db_conn, "gone", is_active=False, last_activity=now)

    resp = await client.get("/api/v1/instance/nodeinfo/2.0/")
    assert resp.code == 200
    assert resp.header("Content-Type").startswith(
        "application/json; profile=http://nodeinfo.diaspora.software/ns/schema/2.0#"
    )
    doc = resp.json
    assert doc["version"] == "2.0"
    assert doc["software"] == {"name": "funkwhale", "version": "1.4.0"}
    assert doc["protocols"] == ["activitypub"]
    assert doc["openRegistrations"] is True
    assert doc["usage"]["users"] == {"total": 3, "activeHalfyear": 2, "activeMonth": 1}
    meta = doc["metadata"]
    assert meta["actorId"] == "http://test.funkwhale.local/federation/actors/service"
    assert meta["library"]["tracks"] == {"total": 0}
    assert meta["defaultUploadQuota"] == 10000
    assert {t["type"]: t["anonymous"] for t in meta["reportTypes"]}["takedown_request"] is True

    doc21 = (await client.get("/api/v2/instance/nodeinfo/2.1/")).json
    assert doc21["version"] == "2.1"
    assert doc21["software"]["homepage"] == "https://funkwhale.audio"
    assert doc21["usage"]["users"]["total"] == 3


@pytest_twisted.ensureDeferred
async def test_nodeinfo_can_hide_stats_or_be_switched_off(client, db_conn):
    factories.insert_user(db_conn, "someone")
    _store(db_conn, "instance__nodeinfo_stats_enabled", False)
    doc = (await client.get("/api/v1/instance/nodeinfo/2.0/")).json
    assert doc["usage"] == {"users": {}}
    assert "tracks" not in doc["metadata"]["library"]

    _store(db_conn, "instance__nodeinfo_enabled", False)
    assert (await client.get("/.well-known/nodeinfo")).code == 404
    assert (await client.get("/api/v1/instance/nodeinfo/2.0/")).code == 404
    assert (await client.get("/api/v2/instance/nodeinfo/2.1/")).code == 404
