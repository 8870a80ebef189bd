"""Remote actors: fetched from their origin over HTTPS, checked, stored and reused; documents that claim another
server's inbox or key, or carry no usable key, are refused."""

from __future__ import annotations

import pytest
import pytest_twisted

from funkwhale.activitypub import remote_actors
from funkwhale.activitypub.remote_actors import domain_of, origin, parse_actor, same_origin
from funkwhale.errors import Invalid
from funkwhale.users.actors import key_pair


@pytest_twisted.ensureDeferred
async def test_b_fetches_alice_from_a_and_keeps_her(peers):
    await peers.user(peers.a, "alice")
    fid = f"{peers.a.base}/federation/actors/alice"
    row = await remote_actors.get_actor(peers.b.ctx, fid)
    assert row["fid"] == fid and row["domain"] == peers.a.base.split("//")[1] and not row["is_local"]
    assert row["inbox_url"] == f"{fid}/inbox" and row["shared_inbox_url"] == f"{peers.a.base}/federation/shared/inbox"
    assert row["public_key"].startswith("-----BEGIN PUBLIC KEY")
    again = await remote_actors.get_actor(peers.b.ctx, fid)
    assert again["last_fetch_date"] == row["last_fetch_date"], "a fresh actor is not fetched again"
    with pytest.raises(Invalid):
        await remote_actors.get_actor(peers.b.ctx, f"{peers.b.base}/federation/actors/nobody")


def _doc(fid: str, **changes):
    _, public = key_pair(1024)
    doc = {
        "id": fid,
        "type": "Person",
        "preferredUsername": "eve",
        "inbox": f"{fid}/inbox",
        "publicKey": {"id": f"{fid}#main-key", "owner": fid, "publicKeyPem": public},
        "endpoints": {"sharedInbox": "https://evil.example/inbox"},
    }
    doc.update(changes)
    return doc


def test_documents_pointing_at_another_server_are_refused():
    fid = "https://peer.example/federation/actors/eve"
    with pytest.raises(Invalid, match="sharedInbox"):
        parse_actor(_doc(fid), fid)
    ok = _doc(fid, endpoints={})
    assert parse_actor(ok, fid).inbox_url == f"{fid}/inbox"
    with pytest.raises(Invalid, match="inbox"):
        parse_actor({**ok, "inbox": "https://victim.example/inbox"}, fid)
    with pytest.raises(Invalid, match="publicKey"):
        parse_actor({**ok, "publicKey": {**ok["publicKey"], "owner": "https://peer.example/other"}}, fid)
    with pytest.raises(Invalid, match="publicKey"):
        parse_actor({**ok, "publicKey": {**ok["publicKey"], "publicKeyPem": "garbage"}}, fid)
    with pytest.raises(Invalid, match="type"):
        parse_actor({**ok, "type": "Note"}, fid)


def test_origins_are_normalised():
    assert origin("https://Peer.Example.:443/x") == "https://peer.example"
    assert origin("http://peer.example:8080/x") == "http://peer.example:8080"
    assert origin("ftp://peer.example/x") == "" and origin("https:///x") == ""
    assert same_origin("https://b\u00fccher.example/a", "https://xn--bcher-kva.example/b")
    assert not same_origin("https://peer.example/a", "https://peer.example.evil/a")
    assert domain_of("https://127.0.0.2:8443/federation/actors/a") == "127.0.0.2:8443"
