"""The two-instance harness itself: A and B answer over HTTPS on their own addresses, with their own data."""

from __future__ import annotations

import pytest_twisted

from funkwhale.activitypub import actors
from funkwhale.activitypub.fetch import Fetcher


@pytest_twisted.ensureDeferred
async def test_two_instances_with_their_own_accounts_fetch_each_other(peers):
    await peers.user(peers.a, "alice")
    await peers.user(peers.b, "bob")
    assert peers.a.base.startswith("https://127.0.0.2:") and peers.b.base.startswith("https://127.0.0.3:")
    fetcher = Fetcher.from_settings(peers.b.ctx.settings)
    alice = await fetcher.get_object(f"{peers.a.base}/federation/actors/alice", signer=await actors.signer(peers.b.ctx))
    assert alice["type"] == "Person" and alice["publicKey"]["id"].endswith("/alice#main-key")
    missing = await peers.b.client().get("/federation/actors/alice", headers={"Accept": "application/activity+json"})
    assert missing.code == 404, "B has no alice: its database is its own"
