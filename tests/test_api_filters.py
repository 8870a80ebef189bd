"""Funkwhale API filters: every filter and ordering that Funkwhale 1.4.0's schema declares for a list endpoint
answers 200 with a plausible value (unknown parameters are ignored), and a sample of the important ones really
filters or orders: favorites, artist, album, library, tag, q, playable, scope=me, each declared ordering field."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import pytest_twisted

from . import catalog_factories as cf
from .openapi_schema import list_endpoints
from .test_libraries import Session

MBID = "bd21ac48-46d8-4e78-925f-d9cc2a294656"


@pytest.fixture
def catalog(db_conn):
    """alice (her public library: Nina's album "Live" of 2 jazz tracks, Otis's "Soul" track, one with an mbid and a
    license) and bob (his public library: one track by Otis)."""
    alice, bob = cf.insert_listener(db_conn, "alice"), cf.insert_listener(db_conn, "bob")
    mine, theirs = cf.insert_library(db_conn, alice, "everyone", "Mine"), cf.insert_library(db_conn, bob, "everyone")
    nina, otis = cf.insert_artist(db_conn, "Nina"), cf.insert_artist(db_conn, "Otis")
    live = cf.insert_album(db_conn, nina, "Live", release_date="2001-01-01")
    soul = cf.insert_album(db_conn, otis, "Soul", release_date="1999-01-01")
    tracks = [
        cf.playable_track(db_conn, mine, nina, "Feeling Good", live, position=2, mbid=MBID, license="cc-by-4.0"),
        cf.playable_track(db_conn, mine, nina, "Ain't Got No", live, position=1),
        cf.playable_track(db_conn, mine, otis, "Dock of the Bay", soul, position=1),
        cf.playable_track(db_conn, theirs, otis, "Respect", soul, position=2),
    ]
    for track in tracks[:2]:
        cf.tag(db_conn, "track", track, "jazz")
    cf.tag(db_conn, "track", tracks[2], "soul")
    cf.tag(db_conn, "album", live, "jazz")
    cf.tag(db_conn, "artist", nina, "jazz")
    cf.catalog_changed()
    return {
        "alice": alice, "bob": bob, "mine": mine, "theirs": theirs, "nina": nina, "otis": otis, "live": live,
        "soul": soul, "tracks": tracks,
    }  # fmt: skip


async def social(server: Any, db_conn: Any, c: dict[str, Any]) -> tuple[Session, Session]:
    """alice favorites and listens to her first track and has a playlist and a radio; bob has public ones."""
    a, b = Session(server, db_conn, c["alice"]), Session(server, db_conn, c["bob"])
    first = c["tracks"][0]["id"]
    assert (await a.post("/api/v1/favorites/tracks/", json_body={"track": first})).code == 201
    assert (await a.post("/api/v1/history/listenings/", json_body={"track": first})).code == 201
    for client, name in ((a, "Alice mix"), (b, "Bob mix")):
        made = await client.post("/api/v1/playlists/", json_body={"name": name, "privacy_level": "everyone"})
        assert (await client.post(f"/api/v1/playlists/{made.json['id']}/add/", json_body={"tracks": [first]})).code
        radio = {"name": f"{name} radio", "config": [], "is_public": True}
        assert (await client.post("/api/v1/radios/radios/", json_body=radio)).code == 201
    return a, b


def plausible(name: str, schema: dict[str, Any], c: dict[str, Any], path: str) -> str:
    """A value a client would send for the filter `name` of `path`."""
    track = c["tracks"][0]
    uuids = {"library": c["mine"]["uuid"], "track": track["uuid"], "album_artist": c["nina"]["uuid"]}
    if schema.get("format") == "uuid":
        return str(uuids.get(name, MBID))
    values = {
        "artist": c["nina"]["id"], "album": c["live"]["id"], "track": track["id"], "id": track["id"],
        "library": c["mine"]["uuid"], "tag": "jazz", "q": "nina", "scope": "me", "related": track["id"],
        "license": "cc-by-4.0", "privacy_level": "everyone", "content_category": "music", "channel": uuid.uuid4(),
        "domain": cf.DOMAIN, "username": "alice", "import_reference": "ref", "mimetype": "audio/mpeg",
        "import_status": "finished", "type": "update", "track_artist": c["nina"]["uuid"],
    }  # fmt: skip
    if name in values:
        return str(values[name])
    if name.startswith(("title", "name")):
        return "Feeling" if path.endswith("/tracks/") else "Nina"
    kind = schema.get("type")
    return "true" if kind == "boolean" else "1" if kind == "integer" else "x"


def orderings(param: dict[str, Any]) -> list[str]:
    """The ordering values the schema declares (an enum), else the ones every list has."""
    enum = param["schema"].get("items", {}).get("enum")
    return enum or ["creation_date", "-creation_date"]


@pytest_twisted.ensureDeferred
async def test_every_declared_filter_and_ordering_answers_200(server, db_conn, catalog):
    a, _ = await social(server, db_conn, catalog)
    problems = []
    for op in list_endpoints():
        if "{" in op.path:  # the schema repeats a parent's filters on its sub-lists, which take none
            continue
        requests = [{"unknown_parameter": "x"}]
        for param in op.parameters:
            name = param["name"]
            if name == "ordering":
                requests += [{"ordering": value} for value in orderings(param)]
            elif name not in ("page", "page_size"):
                requests.append({name: plausible(name, param["schema"], catalog, op.path)})
        for params in requests:
            resp = await a.get(op.path, params=params)
            if resp.code != 200:
                problems.append(f"{op.path} {params}: {resp.code} {resp.body[:150]!r}")
    assert not problems, "\n".join(problems)


async def ids(client: Any, path: str, key: str = "id", **params: Any) -> list[Any]:
    resp = await client.get(path, params=params)
    assert resp.code == 200, (path, params, resp)
    return [row[key] for row in resp.json["results"]]


@pytest_twisted.ensureDeferred
async def test_important_filters_really_filter(server, db_conn, catalog):
    a, b = await social(server, db_conn, catalog)
    c = catalog
    t = [track["id"] for track in c["tracks"]]
    assert await ids(a, "/api/v1/tracks/", favorites="true") == [t[0]]  # mopidy's favorites
    assert sorted(await ids(a, "/api/v1/tracks/", favorites="false")) == t[1:]
    assert sorted(await ids(a, "/api/v1/tracks/", artist=c["nina"]["id"])) == t[:2]
    assert sorted(await ids(a, "/api/v1/tracks/", album=c["soul"]["id"])) == t[2:]
    assert sorted(await ids(a, "/api/v1/tracks/", library=c["theirs"]["uuid"])) == [t[3]]
    assert sorted(await ids(a, "/api/v1/tracks/", tag="jazz")) == t[:2]
    assert await ids(a, "/api/v1/tracks/", q="dock") == [t[2]]
    assert sorted(await ids(a, "/api/v1/tracks/", playable="true")) == t
    assert await ids(a, "/api/v1/tracks/", mbid=MBID) == [t[0]]
    assert await ids(a, "/api/v1/tracks/", license="cc-by-4.0") == [t[0]]
    assert await ids(a, "/api/v1/tracks/", title__icontains="BAY") == [t[2]]
    assert await ids(a, "/api/v1/tracks/", title__startswith="Feel") == [t[0]]
    assert await ids(a, "/api/v1/tracks/", title="Respect") == [t[3]]
    assert sorted(await ids(a, "/api/v1/tracks/", scope="me")) == t[:3]
    assert await ids(a, "/api/v1/albums/", artist=c["otis"]["id"]) == [c["soul"]["id"]]
    assert await ids(a, "/api/v1/albums/", tag="jazz") == [c["live"]["id"]]
    assert await ids(a, "/api/v1/albums/", q="liv") == [c["live"]["id"]]
    assert await ids(a, "/api/v1/artists/", tag="jazz") == [c["nina"]["id"]]
    assert await ids(a, "/api/v1/artists/", name__iexact="OTIS") == [c["otis"]["id"]]
    assert await ids(a, "/api/v1/artists/", library=c["theirs"]["uuid"]) == [c["otis"]["id"]]
    assert await ids(a, "/api/v1/tags/", "name", name__startswith="ja") == ["jazz"]

    assert await ids(a, "/api/v1/playlists/", "name", scope="me") == ["Alice mix"]
    assert sorted(await ids(a, "/api/v1/playlists/", "name")) == ["Alice mix", "Bob mix"]
    assert sorted(await ids(a, "/api/v1/playlists/", "name", track=t[0])) == ["Alice mix", "Bob mix"]
    assert await ids(a, "/api/v1/playlists/", "name", artist=c["otis"]["id"]) == []
    assert await ids(a, "/api/v1/playlists/", "name", name="Bob mix") == ["Bob mix"]
    assert await ids(a, "/api/v1/radios/radios/", "name", scope="me") == ["Alice mix radio"]
    assert await ids(a, "/api/v1/radios/radios/", "name", q="bob") == ["Bob mix radio"]
    assert await ids(a, "/api/v1/libraries/", "name", scope="me") == ["Mine"]
    assert len(await ids(a, "/api/v1/libraries/", "uuid", scope="all")) == 2
    assert await ids(b, "/api/v1/favorites/tracks/", scope="me") == []
    assert len(await ids(b, "/api/v1/history/listenings/", scope="all")) == 1
    assert len(await ids(b, "/api/v1/history/listenings/", username="alice")) == 1
    assert await ids(b, "/api/v1/history/listenings/", username="bob") == []
    assert len(await ids(b, "/api/v1/history/listenings/", scope="all", domain=cf.DOMAIN)) == 1
    assert await ids(b, "/api/v1/history/listenings/", scope="all", domain="elsewhere.example") == []


# The ordering fields whose order the answer shows, by list: field -> key of a result.
SHOWN = {
    "/api/v1/tracks/": {"title": "title", "position": "position", "creation_date": "creation_date"},
    "/api/v1/albums/": {"title": "title", "release_date": "release_date", "creation_date": "creation_date"},
    "/api/v1/artists/": {"name": "name", "id": "id", "creation_date": "creation_date"},
    "/api/v1/tags/": {"name": "name", "creation_date": "creation_date"},
    "/api/v1/playlists/": {"name": "name", "creation_date": "creation_date"},
    "/api/v1/radios/radios/": {"name": "name", "creation_date": "creation_date"},
}


@pytest_twisted.ensureDeferred
async def test_declared_orderings_order(server, db_conn, catalog):
    a, _ = await social(server, db_conn, catalog)
    for op in list_endpoints():
        if op.path not in SHOWN:
            continue
        declared = next(p for p in op.parameters if p["name"] == "ordering")
        for value in orderings(declared):
            field = value.lstrip("-")
            if field not in SHOWN[op.path]:
                continue
            shown = await ids(a, op.path, SHOWN[op.path][field], ordering=value)
            keys = [s.lower() if isinstance(s, str) and field in ("title", "name") else s for s in shown]
            assert len(keys) > 1 and keys == sorted(keys, reverse=value.startswith("-")), (op.path, value, shown)
