"""Subsonic latency on the generated library of 20,000 tracks (bench/browse.py's seed: 500 artists, 2,000 albums).

Starts the daemon on the seeded library, gives the seeded user a Subsonic token, then times over real HTTP, at
concurrency 1 and 16 (requests/s, p50, p99): getAlbumList2 (alphabeticalByName, size 50, first and a deep page),
search3 with a query, search3 with an empty query at a deep offset (Symfonium's sync: 500 songs a page) and
getArtists; beside the same store statements run directly with psycopg2 (the limit).
Run: .venv/bin/python bench/subsonic.py [requests per case, default 200]
"""

from __future__ import annotations

import http.client
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from browse import direct_ms, get, run_case, seeded_instance

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
    ("getArtists", {"method": "getArtists"}, lambda cur, viewer: store.artists_txn(cur, viewer, None)),
]


def give_token(dsn: str) -> None:
    conn = connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE users SET subsonic_api_token = %s WHERE username = 'bench'", (TOKEN,))
    conn.close()


def path_of(params: dict[str, Any]) -> str:
    query = {k: v for k, v in params.items() if k != "method"}
    return f"/rest/{params['method']}?{urlencode({**AUTH, **query})}"


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with seeded_instance("fw-bench-subsonic-", give_token) as instance:
        print(f"{'case':<16} {'direct SQL p50':>14} | " + " | ".join(f"c={c:<2} req/s   p50    p99" for c in (1, 16)))
        for name, params, run in CASES:
            path = path_of(params)
            _, body = get(http.client.HTTPConnection("127.0.0.1", instance.port, timeout=60), path, "")
            if b'"status":"ok"' not in body:  # Subsonic failures are HTTP 200 too
                raise SystemExit(f"{name} failed: {body[:300]!r}")
            run_case(instance.port, "", path, 10, 1)  # warm up
            cells = []
            for concurrency in (1, 16):
                rps, p50, p99 = run_case(instance.port, "", path, requests, concurrency)
                cells.append(f"{rps:8.0f} {p50:6.1f} {p99:6.1f}")
            print(f"{name:<16} {direct_ms(instance.dsn, run, runs=30):11.1f} ms | " + " | ".join(cells))
        print("latencies in ms; direct SQL = the same store statement through psycopg2, without HTTP or rendering")


if __name__ == "__main__":
    main()
