"""/federation/music/...: local libraries, their pages, uploads, tracks, albums and artists as Funkwhale 1.4's
ActivityPub documents, and who may read a private library's pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest_twisted

from funkwhale.activitypub import actors
from funkwhale.activitypub.fetch import Fetcher, FetchError

from .api_shapes import shape_differences
from .federation_helpers import run_sql
from .federation_music import AP, LICENSE, library_with_audio

REFERENCE = Path("/work/shared/reference/funkwhale-1.4-responses")


def local(url: str) -> str:
    """The path and query of one of the single test server's ids (its public host does not resolve)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def reference(name: str) -> Any:
    return json.loads((REFERENCE / f"{name}.json").read_text())


@pytest_twisted.ensureDeferred
async def test_documents_have_funkwhale_shapes(server, db_conn, tmp_path):
    alice = server.client()
    await alice.signup("alice", "S3cret-pass!")
    library, uploads = await library_with_audio(server, alice, tmp_path)
    anonymous = server.client()
    base = server.ctx.settings.base_url
    collection = await anonymous.get(f"/federation/music/libraries/{library['uuid']}", headers=AP)
    assert collection.code == 200 and collection.header("content-type") == "application/activity+json"
    assert shape_differences(reference("fed-library"), collection.json) == []
    assert collection.json["totalItems"] == 2 and collection.json["first"].endswith("?page=1")
    page = await anonymous.get(local(collection.json["first"]), headers=AP)
    assert page.code == 200, page
    assert shape_differences(reference("fed-library-page1"), page.json) == []
    assert [item["id"] for item in page.json["items"]] == [
        f"{base}/federation/music/uploads/{u}" for u in uploads[::-1]
    ]
    audio = page.json["items"][1]
    track = audio["track"]
    assert audio["to"] == "https://www.w3.org/ns/activitystreams#Public"
    assert audio["url"][0]["href"].startswith(f"{base}/api/v1/listen/") and audio["url"][0]["mediaType"] == "audio/mpeg"
    assert track["license"] == LICENSE and track["copyright"] == "2019 Aurora Tones"
    assert [t["name"] for t in track["tag"]] == ["#Ambient", "#Electronic"]
    assert track["album"]["image"]["type"] == "Image" and track["album"]["released"] == "2019-03-01"

    for name, url in (
        ("fed-upload", audio["id"]),
        ("fed-track", track["id"]),
        ("fed-album", track["album"]["id"]),
        ("fed-artist", track["artists"][0]["id"]),
    ):
        resp = await anonymous.get(local(url), headers=AP)
        assert resp.code == 200, (name, resp)
        assert shape_differences(reference(name), resp.json) == [], name
    html = await anonymous.get(local(track["id"]), headers={"Accept": "text/html"})
    assert html.code == 302 and html.header("location").startswith(f"{base}/library/tracks/")

    missing = await anonymous.get("/federation/music/tracks/00000000-0000-0000-0000-000000000000", headers=AP)
    assert missing.code == 404
    assert (await anonymous.get(local(collection.json["first"])[:-1] + "9", headers=AP)).code == 404
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO instance_setting (name, value) VALUES ('federation__enabled', 'false')")
    assert (await anonymous.get(f"/federation/music/libraries/{library['uuid']}", headers=AP)).code == 404


@pytest_twisted.ensureDeferred
async def test_a_private_library_pages_only_to_approved_signers(peers, tmp_path):
    alice = await peers.user(peers.a, "alice")
    library, uploads = await library_with_audio(peers.a, alice, tmp_path, privacy="me", titles=("Secret",))
    url = f"{peers.a.base}/federation/music/libraries/{library['uuid']}"
    anonymous = peers.a.client()
    collection = await anonymous.get(url, headers=AP)
    assert collection.code == 200 and collection.json["audience"] == "" and "items" not in collection.json
    for refused in (f"{url}?page=1", f"{peers.a.base}/federation/music/uploads/{uploads[0]}"):
        resp = await anonymous.get(refused, headers=AP)
        assert resp.code == 403 and b"Secret" not in resp.body, resp
    track_fid = (await alice.get(f"/api/v1/uploads/{uploads[0]}/")).json["track"]["fid"]
    assert (await anonymous.get(track_fid, headers=AP)).code == 404

    # signed by B's service actor, which no follow approves: still refused
    fetcher = Fetcher.from_settings(peers.b.ctx.settings)
    signer = await actors.signer(peers.b.ctx)
    try:
        await fetcher.get_object(f"{url}?page=1", signer=signer)
        raise AssertionError("an unapproved signer read a private library's page")
    except FetchError as e:
        assert "403" in str(e)
    # an approved follow of an actor of B's domain lets B's service actor read it
    [b_service] = await run_sql(peers.a, "SELECT id FROM actor WHERE fid = %s", (signer.key_id.split("#")[0],))
    await run_sql(
        peers.a,
        "INSERT INTO library_follow (fid, actor_id, target_id, approved) SELECT %s, %s, id, true FROM library"
        " WHERE uuid = %s",
        (f"{peers.b.base}/follows/1", b_service["id"], library["uuid"]),
    )
    page = await fetcher.get_object(f"{url}?page=1", signer=signer)
    assert [item["track"]["name"] for item in page["items"]] == ["Secret"] and page["items"][0]["to"] == ""
