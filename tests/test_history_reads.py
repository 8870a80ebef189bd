"""What reads a listener's history, with another listener's beside it: Subsonic's plays, stars and ratings on songs
and albums, the frequent and recent album lists, getStarred2's order, the REST lists ordered by listen count, the
listening history and favorites pages (their count, order, windows and content filters), the activity feed and the
less-listened radio. Each counts the viewer's own listenings only, summed over an album's tracks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import pytest_twisted

from . import catalog_factories as cf
from .subsonic_helpers import Subsonic
from .test_radios import draw_all, session

NOW = datetime.now(UTC).replace(microsecond=0)


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def subsonic_date(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@pytest.fixture
def history(db_conn, alice, bob):
    """Alice's library: "Pair" (Moss, tracks p1 and p2), "Solo" (Birch, s1), "Quiet" (Moss, q1). Alice listened
    to p1 once, p2 twice, s1 twice; bob to q1 five times, most recently of all, and to s1 three times. Alice's
    favorites: s1 then p1; she starred Solo and Moss and rated p2 4."""
    lib = cf.insert_library(db_conn, alice, "instance")
    moss, birch = cf.insert_artist(db_conn, "Moss"), cf.insert_artist(db_conn, "Birch")
    pair, solo, quiet = (cf.insert_album(db_conn, a, t) for a, t in ((moss, "Pair"), (birch, "Solo"), (moss, "Quiet")))
    t = {
        "p1": cf.playable_track(db_conn, lib, moss, "p1", pair, position=1),
        "p2": cf.playable_track(db_conn, lib, moss, "p2", pair, position=2),
        "s1": cf.playable_track(db_conn, lib, birch, "s1", solo, position=1),
        "q1": cf.playable_track(db_conn, lib, moss, "q1", quiet, position=1),
    }
    plays = [(alice, "p1", 10), (alice, "p2", 3), (alice, "p2", 8), (alice, "s1", 1), (alice, "s1", 20)]
    plays += [(bob, "q1", 0)] * 5 + [(bob, "s1", 2)] * 3
    with db_conn.cursor() as cur:
        for user, name, days in plays:
            cur.execute(
                "INSERT INTO listening (user_id, track_id, creation_date) VALUES (%s, %s, %s)",
                (user["id"], t[name]["id"], days_ago(days)),
            )
        for name, days in (("s1", 5), ("p1", 4)):
            cur.execute(
                "INSERT INTO track_favorite (user_id, track_id, creation_date) VALUES (%s, %s, %s)",
                (alice["id"], t[name]["id"], days_ago(days)),
            )
        cur.execute("INSERT INTO starred_album (user_id, album_id) VALUES (%s, %s)", (alice["id"], solo["id"]))
        cur.execute("INSERT INTO starred_artist (user_id, artist_id) VALUES (%s, %s)", (alice["id"], moss["id"]))
        cur.execute(
            "INSERT INTO rating (user_id, object_type, object_id, rating) VALUES (%s, 'track', %s, 4)",
            (alice["id"], t["p2"]["id"]),
        )
    return {"tracks": t, "albums": {"Pair": pair, "Solo": solo, "Quiet": quiet}, "birch": birch}


@pytest_twisted.ensureDeferred
async def test_subsonic_plays_stars_and_ratings_are_the_viewers(web_server, alice, history):
    api = Subsonic(web_server, alice)
    albums, tracks = history["albums"], history["tracks"]

    async def listed(kind: str) -> list[dict]:
        return (await api.ok("getAlbumList2", type=kind))["albumList2"].get("album", [])

    # frequent sums an album's tracks (Pair: 1 + 2 > Solo: 2); recent is the latest play; bob's plays count not
    assert [a["name"] for a in await listed("frequent")] == ["Pair", "Solo"]
    assert [a["name"] for a in await listed("recent")] == ["Solo", "Pair"]
    by_name = {a["name"]: a for a in await listed("alphabeticalByName")}
    assert (by_name["Pair"]["playCount"], by_name["Pair"]["played"]) == (3, subsonic_date(days_ago(3)))
    assert (by_name["Solo"]["playCount"], by_name["Solo"]["played"]) == (2, subsonic_date(days_ago(1)))
    assert "played" not in by_name["Quiet"] and by_name["Quiet"].get("playCount", 0) == 0
    assert "starred" in by_name["Solo"] and "starred" not in by_name["Pair"]

    songs = (await api.ok("getAlbum", id=f"al-{albums['Pair']['id']}"))["album"]["song"]
    assert [(s["title"], s["playCount"], s["played"]) for s in songs] == [
        ("p1", 1, subsonic_date(days_ago(10))),
        ("p2", 2, subsonic_date(days_ago(3))),
    ]
    assert songs[0]["starred"] == subsonic_date(days_ago(4)) and "starred" not in songs[1]
    assert "userRating" not in songs[0] and songs[1]["userRating"] == 4
    quiet = (await api.ok("getSong", id=f"tr-{tracks['q1']['id']}"))["song"]
    assert "played" not in quiet and quiet.get("playCount", 0) == 0

    starred = (await api.ok("getStarred2"))["starred2"]
    assert [s["title"] for s in starred["song"]] == ["p1", "s1"]  # latest first
    assert [a["name"] for a in starred["album"]] == ["Solo"] and [a["name"] for a in starred["artist"]] == ["Moss"]


@pytest_twisted.ensureDeferred
async def test_starred_lists_latest_first_and_content_filters(web_server, db_conn, alice, history):
    """getStarred2's three lists (each read as rows): the viewer's stars newest first, each with its date; an
    artist the viewer hid takes its albums and songs out of them."""
    albums, tracks = history["albums"], history["tracks"]
    with db_conn.cursor() as cur:
        for album, days in (("Pair", 2), ("Quiet", 1)):
            cur.execute(
                "INSERT INTO starred_album (user_id, album_id, creation_date) VALUES (%s, %s, %s)",
                (alice["id"], albums[album]["id"], days_ago(days)),
            )
        cur.execute(
            "INSERT INTO starred_artist (user_id, artist_id, creation_date) VALUES (%s, %s, %s)",
            (alice["id"], history["birch"]["id"], days_ago(3)),
        )
        cur.execute(
            "INSERT INTO track_favorite (user_id, track_id, creation_date) VALUES (%s, %s, %s)",
            (alice["id"], tracks["q1"]["id"], days_ago(2)),
        )
    cf.catalog_changed()
    api = Subsonic(web_server, alice)

    async def starred() -> tuple[list, list, list]:
        found = (await api.ok("getStarred2"))["starred2"]
        return tuple(
            [(x.get("title") or x["name"], x["starred"]) for x in found.get(kind, [])]
            for kind in ("artist", "album", "song")
        )

    artists, albums_seen, songs = await starred()
    assert [name for name, _ in artists] == ["Moss", "Birch"] and artists[1][1] == subsonic_date(days_ago(3))
    assert [name for name, _ in albums_seen] == ["Solo", "Quiet", "Pair"]
    assert albums_seen[1:] == [("Quiet", subsonic_date(days_ago(1))), ("Pair", subsonic_date(days_ago(2)))]
    assert songs == [(name, subsonic_date(days_ago(days))) for name, days in (("q1", 2), ("p1", 4), ("s1", 5))]
    a = cf.listener_client(web_server, db_conn, alice)
    hide = {"target": {"type": "artist", "id": history["birch"]["id"]}}
    assert (await a.post("/api/v1/moderation/content-filters/", json_body=hide)).code == 201
    artists, albums_seen, songs = await starred()
    assert [x for x, _ in artists] == ["Moss"] and [x for x, _ in albums_seen] == ["Quiet", "Pair"]
    assert [x for x, _ in songs] == ["q1", "p1"]


@pytest_twisted.ensureDeferred
async def test_rest_lists_by_listen_count_and_the_less_listened_radio(web_server, db_conn, alice, history):
    a = cf.listener_client(web_server, db_conn, alice)

    async def names(kind: str) -> list[str]:
        rows = (await a.get(f"/api/v1/{kind}/", params={"ordering": "-listen_count"})).json["results"]
        return [r.get("title") or r["name"] for r in rows]

    assert await names("tracks") == ["s1", "p2", "p1", "q1"]  # s1 and p2 tie at 2: the later id first
    assert await names("albums") == ["Pair", "Solo", "Quiet"]
    assert await names("artists") == ["Moss", "Birch"]
    order = await draw_all(a, (await session(a, "less-listened"))["id"])
    t = history["tracks"]
    assert order[:2] == [t["q1"]["id"], t["p1"]["id"]] and sorted(order[2:]) == [t["p2"]["id"], t["s1"]["id"]]


@pytest_twisted.ensureDeferred
async def test_history_and_favorites_pages_count_order_and_filters(web_server, db_conn, alice, history):
    a = cf.listener_client(web_server, db_conn, alice)

    async def page(url: str, **params) -> tuple[int, list[tuple[str, str]]]:
        body = (await a.get(url, params=params)).json
        return body["count"], [(e["track"]["title"], e["creation_date"][:19]) for e in body["results"]]

    def entry(name: str, days: int) -> tuple[str, str]:
        return name, days_ago(days).strftime("%Y-%m-%dT%H:%M:%S")

    listenings, favorites = "/api/v1/history/listenings/", "/api/v1/favorites/tracks/"
    everything = [entry("s1", 1), entry("p2", 3), entry("p2", 8), entry("p1", 10), entry("s1", 20)]
    assert await page(listenings) == (5, everything)
    assert await page(listenings, page_size="2", page="2") == (5, everything[2:4])
    assert await page(listenings, ordering="creation_date") == (5, everything[::-1])
    assert await page(favorites) == (2, [entry("p1", 4), entry("s1", 5)])
    hide = {"target": {"type": "artist", "id": history["birch"]["id"]}}
    assert (await a.post("/api/v1/moderation/content-filters/", json_body=hide)).code == 201
    assert await page(listenings) == (3, everything[1:4])
    assert await page(favorites) == (1, [entry("p1", 4)])
    assert await page(listenings, page_size="2", page="2") == (3, everything[3:4])
    # the instance's latest activity (every user's, newest first; alice's filter applies)
    latest = (await a.get("/api/v1/activity/")).json["results"]
    seen = [(x["actor"]["name"], x["type"], x["object"]["name"]) for x in latest]
    assert seen == [("bob", "Listen", "q1")] * 5 + [("alice", "Listen", "p2"), ("alice", "Like", "p1")] + [
        ("alice", "Listen", name) for name in ("p2", "p1")
    ]
