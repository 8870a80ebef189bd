"""Subsonic latency on the generated library of 20,000 tracks (bench/browse.py's seed: 500 artists, 2,000 albums).

Starts the daemon on the seeded library, gives the seeded user a Subsonic token, then times over real HTTP, at
concurrency 1 and 16 (requests/s, p50, p99): getAlbumList2 (alphabeticalByName, size 50, first and a deep page),
search3 with a query, search3 with an empty query at a deep offset (Symfonium's sync: 500 songs a page), alone
and as the next page of a sync (after the page before it, whose keyset cursor it follows), that next page in XML
too (f=xml, as DSub and Ultrasonic ask: the XML writer's cost beside JSON's), getArtists, and what reads the
seeded user's history: getAlbumList2 frequent and recent, getStarred2 (100 artists, 300 albums, 2,000 songs; in
JSON and in XML);
beside the same store statements run directly with psycopg2 (the limit), and the ratios of the two.
Run: .venv/bin/python bench/subsonic.py [requests per case, default 200] [--no-history: without the seed's history]
"""

from __future__ import annotations

import http.client
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from browse import command_line, direct_ms, get, header, measure_cpu, row, seeded_instance

from funkwhale.db.pool import connect
from funkwhale.music.visibility import Viewer
from funkwhale.subsonic import store

TOKEN = "bench-subsonic-token"
AUTH = {"u": "bench", "p": TOKEN, "v": "1.16.1", "c": "bench", "f": "json"}
ALBUMS = store.AlbumList("alphabeticalByName", size=50)
SYNC_OFFSET = 19_500
CASES: list[tuple[str, dict[str, Any], Callable[[Any, Viewer], Any]]] = [
    (
        "albumList2 p1",
        {"method": "getAlbumList2", "type": "alphabeticalByName", "size": 50},
        lambda cur, viewer: store.album_list_txn(cur, viewer, ALBUMS),
    ),
    (
        "albumList2 deep",
        {"method": "getAlbumList2", "type": "alphabeticalByName", "size": 50, "offset": 1900},
        lambda cur, viewer: store.album_list_txn(cur, viewer, store.AlbumList("alphabeticalByName", 50, 1900)),
    ),
    (
        "search3 q",
        {"method": "search3", "query": "kalo"},
        lambda cur, viewer: store.search_txn(cur, viewer, store.Search("kalo")),
    ),
    (
        "search3 sync",
        {
            "method": "search3",
            "query": '""',
            "songCount": 500,
            "songOffset": SYNC_OFFSET,
            "artistCount": 0,
            "albumCount": 0,
        },
        lambda cur, viewer: store.search_txn(
            cur, viewer, store.Search('""', artists=(0, 0), albums=(0, 0), songs=(500, SYNC_OFFSET))
        ),
    ),  # fmt: skip
    (
        "search3 sync next",  # the same page when the previous one (offset 19,000) was asked first: its cursor
        {
            "method": "search3",
            "query": '""',
            "songCount": 500,
            "songOffset": SYNC_OFFSET,
            "artistCount": 0,
            "albumCount": 0,
        },
        lambda cur, viewer: store.search_txn(
            cur,
            viewer,
            store.Search('""', (0, 0), (0, 0), (500, SYNC_OFFSET), after={"songs": (SYNC_OFFSET, SYNC_OFFSET)}),
        ),  # the seed's track ids are 1..20,000: the 19,500th song is 19,500
    ),  # fmt: skip
    ("getArtists", {"method": "getArtists"}, lambda cur, viewer: store.artists_txn(cur, viewer, None)),
    # the user's history (bench/browse.py's seed_history)
    (
        "albumList2 freq",
        {"method": "getAlbumList2", "type": "frequent", "size": 50},
        lambda cur, viewer: store.album_list_txn(cur, viewer, store.AlbumList("frequent", 50)),
    ),
    (
        "albumList2 recent",
        {"method": "getAlbumList2", "type": "recent", "size": 50},
        lambda cur, viewer: store.album_list_txn(cur, viewer, store.AlbumList("recent", 50)),
    ),
    ("getStarred2", {"method": "getStarred2"}, store.starred_txn),
    ("getStarred2 xml", {"method": "getStarred2", "f": "xml"}, store.starred_txn),  # DSub's and Ultrasonic's format
]
_SYNC_NEXT = next(case for case in CASES if case[0] == "search3 sync next")
CASES.insert(CASES.index(_SYNC_NEXT) + 1, ("sync next xml", {**_SYNC_NEXT[1], "f": "xml"}, _SYNC_NEXT[2]))


def give_token(dsn: str) -> None:
    conn = connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE users SET subsonic_api_token = %s WHERE username = 'bench'", (TOKEN,))
    conn.close()


def path_of(params: dict[str, Any]) -> str:
    query = {k: v for k, v in params.items() if k != "method"}
    return f"/rest/{params['method']}?{urlencode({**AUTH, **query})}"


def previous_page(params: dict[str, Any]) -> str:
    return path_of({**params, "songOffset": params["songOffset"] - params["songCount"]})


def main() -> None:
    requests, history = command_line()
    with seeded_instance("fw-bench-subsonic-", give_token, history=history) as instance:
        print(header(16, (1, 16)))
        for name, params, run in CASES:
            path = path_of(params)
            _, body = get(http.client.HTTPConnection("127.0.0.1", instance.port, timeout=60), path, "")
            if b'"status":"ok"' not in body and b'status="ok"' not in body:  # Subsonic failures are HTTP 200 too
                raise SystemExit(f"{name} failed: {body[:300]!r}")
            if " next" in name:  # a sync's previous page records the cursor of this one
                get(http.client.HTTPConnection("127.0.0.1", instance.port, timeout=60), previous_page(params), "")
            cells, cpu = measure_cpu(instance, path, requests, (1, 16), cookie="")
            print(row(name, 16, direct_ms(instance.dsn, run, runs=30), cells))
            print(f"{'':<16} {cpu}")
        print(
            "latencies in ms; SQL = the same store statement through psycopg2, prepared as the daemon runs it, without"
            " HTTP or rendering (search3"
            " sync: by offset, the first page of a sync; a sync's next pages follow keyset cursors, see 'sync next')"
        )


if __name__ == "__main__":
    main()
