"""/api/v1/manage/moderation/instance-policies/: moderators manage blocks of remote domains and actors (their
effect at the inbox is tested in test_federation_inbox.py)."""

from __future__ import annotations

import pytest_twisted

from . import catalog_factories as cf
from .test_libraries import Session

POLICIES = "/api/v1/manage/moderation/instance-policies/"


def remote_actor(db_conn, username: str, domain: str) -> None:
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO domain (name) VALUES (%s) ON CONFLICT DO NOTHING", (domain,))
        cur.execute(
            "INSERT INTO actor (fid, preferred_username, domain) VALUES (%s, %s, %s)",
            (f"https://{domain}/federation/actors/{username}", username, domain),
        )


@pytest_twisted.ensureDeferred
async def test_moderators_block_silence_and_lift(server, db_conn, alice, bob):
    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET permission_moderation = true WHERE id = %s", (alice["id"],))
    moderator, listener = Session(server, db_conn, alice), Session(server, db_conn, bob)
    remote_actor(db_conn, "eve", "peer.example")

    assert (await listener.get(POLICIES)).code == 403
    assert (await listener.post(POLICIES, json_body={"target": {"type": "domain", "id": "x.example"}})).code == 403

    resp = await moderator.post(POLICIES, json_body={"target": {"type": "domain", "id": "Spam.Example."},
                                                    "block_all": True, "summary": "spam"})  # fmt: skip
    assert resp.code == 201, resp
    assert resp.json["target"] == {"type": "domain", "id": "spam.example"} and resp.json["block_all"] is True
    assert resp.json["actor"] == f"alice@{cf.DOMAIN}" and resp.json["is_active"] is True
    domain_policy = resp.json["id"]
    resp = await moderator.post(POLICIES, form={"target": "", "block_all": "true"})
    assert resp.code == 400 and "target" in resp.json
    again = await moderator.post(POLICIES, json_body={"target": {"type": "domain", "id": "spam.example"}})
    assert again.code == 400 and "exists already" in again.json["detail"]
    unknown = await moderator.post(POLICIES, json_body={"target": {"type": "actor", "id": "nobody@peer.example"}})
    assert unknown.code == 400 and "Unknown actor" in unknown.json["detail"]
    resp = await moderator.post(POLICIES, json_body={"target": {"type": "actor", "id": "@eve@peer.example"},
                                                    "reject_media": True})  # fmt: skip
    assert resp.code == 201 and resp.json["target"] == {"type": "actor", "id": "eve@peer.example"}

    listing = (await moderator.get(POLICIES)).json
    assert listing["count"] == 2 and [p["target"]["id"] for p in listing["results"]] == ["eve@peer.example",
                                                                                        "spam.example"]  # fmt: skip
    assert [p["target"]["id"] for p in (await moderator.get(f"{POLICIES}?block_all=true")).json["results"]] == [
        "spam.example"
    ]
    assert (await moderator.get(f"{POLICIES}?q=eve")).json["count"] == 1
    assert (await moderator.get(f"{POLICIES}?target_account_domain=peer.example")).json["count"] == 1

    lifted = await moderator.patch(f"{POLICIES}{domain_policy}/", json_body={"is_active": False})
    assert lifted.code == 200 and lifted.json["is_active"] is False and lifted.json["block_all"] is True
    assert (await moderator.patch(f"{POLICIES}{domain_policy}/", json_body={"block_all": "maybe"})).code == 400
    assert (await moderator.delete(f"{POLICIES}{domain_policy}/")).code == 204
    assert (await moderator.get(f"{POLICIES}{domain_policy}/")).code == 404
    assert (await moderator.get(f"{POLICIES}not-a-number/")).code == 404
