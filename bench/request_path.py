"""The request path beside its SQL, on the generated library of 20,000 tracks (bench/browse.py's seed).

For each endpoint: p50 at c=1 and requests/s at c=16 over real HTTP, the p50 of its SQL alone through psycopg2
(the limit) and the share of the request that SQL is; then the longest the reactor stalled while the big
responses (getArtists of 500 artists, a 1,000-track playlist in JSON and in Subsonic XML) were served, seen as the
worst latency of a trivial request (a JSON 404 under /api/v1/: routing only, no SQL) sent meanwhile.
With `--before DIR` (a checkout of an older commit, e.g. `git worktree add /tmp/base <commit>`), a second daemon
runs that checkout's code (first on PYTHONPATH) on the same database and Redis, and each case is measured on both,
one after the other, so that both see the same load on a shared machine.
Run: .venv/bin/python bench/request_path.py [requests per case, default 300] [--before DIR]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from browse import HOST, catalog_statement, direct_ms, run_case, seeded_instance
from daemon import free_port, launch, stop
from subsonic import CASES as SUBSONIC_CASES
from subsonic import give_token, path_of

from funkwhale.db.pool import connect
from funkwhale.music.visibility import Viewer
from funkwhale.playlists import store as playlists_store
from funkwhale.subsonic.userdata import store as userdata_store

PLAYLIST_TRACKS = 1000
PROBE = "/api/v1/no-such-area/"  # answered by the routing alone: a JSON 404, no SQL, no Redis


def seed_playlist(dsn: str) -> None:
    """The Subsonic token, and a playlist of the bench user holding 1,000 tracks."""
    give_token(dsn)
    conn = connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO playlist (user_id, name, privacy_level) SELECT id, 'big', 'me' FROM users"
            " WHERE username = 'bench' RETURNING id"
        )
        playlist_id = cur.fetchone()["id"]
        cur.execute(
            "INSERT INTO playlist_track (playlist_id, track_id, index) SELECT %s, t.id, row_number() OVER"
            " (ORDER BY t.id) - 1 FROM track t WHERE t.id %% 20 = 0 ORDER BY t.id LIMIT %s",
            (playlist_id, PLAYLIST_TRACKS),
        )
    conn.close()


def cases(playlist_id: int) -> list[tuple[str, str, Callable[[Any, Viewer], Any]]]:
    """(name, path, its SQL alone) of each measured endpoint."""
    subsonic = {name: (params, run) for name, params, run in SUBSONIC_CASES}
    out: list[tuple[str, str, Callable[[Any, Viewer], Any]]] = []
    for name, path in (("tracks p1", "/api/v1/tracks/?page_size=50"), ("search", "/api/v1/search?q=metalica")):
        out.append((name, path, catalog_statement(path)))
    for name in ("albumList2 p1", "search3 q", "getArtists"):
        params, run = subsonic[name]
        out.append((name, path_of(params), run))
    out.append(
        (
            "playlist 1000",
            f"/api/v1/playlists/{playlist_id}/tracks/",
            lambda cur, viewer: playlists_store.tracks_txn(cur, viewer, playlist_id),
        )
    )
    out.append(
        (
            "getPlaylist 1000",
            path_of({"method": "getPlaylist", "id": f"pl-{playlist_id}", "f": "xml"}),
            lambda cur, viewer: userdata_store.playlist_txn(cur, viewer, playlist_id),
        )
    )
    return out


def worst_stall(port: int, cookie: str, path: str, requests: int) -> tuple[float, float]:
    """(p50, max) ms of the no-SQL probe while `requests` GETs of `path` run one after another beside it."""
    stop = threading.Event()
    probe_times: list[float] = []

    def probe() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while not stop.is_set():
            t0 = time.perf_counter()
            conn.request("GET", PROBE)
            conn.getresponse().read()
            probe_times.append(time.perf_counter() - t0)
            time.sleep(0.002)
        conn.close()

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        run_case(port, cookie, path, requests, 1)
    finally:
        stop.set()
        thread.join()
    return statistics.median(probe_times) * 1000, max(probe_times) * 1000


def measure(name: str, port: int, cookie: str, path: str, requests: int, sql: float) -> str:
    run_case(port, cookie, path, 10, 1)  # warm up (and fill the caches)
    _, p50, _ = run_case(port, cookie, path, requests, 1)
    rps, _, _ = run_case(port, cookie, path, requests, 16)
    probe_p50, probe_max = worst_stall(port, cookie, path, max(20, requests // 10))
    return f"{name:<24} {p50:6.1f}ms {rps:9.0f} {sql:6.1f}ms {sql / p50:8.0%}  {probe_p50:5.1f}/{probe_max:5.1f}ms"


def start_before(checkout: Path, instance: Any, workdir: Path) -> Any:
    """A daemon running the code of `checkout` on the instance's database and Redis; (process, port)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(checkout),
        "FUNKWHALE_DATABASE_URL": instance.dsn,
        "FUNKWHALE_REDIS_URL": instance.redis_url,
        "FUNKWHALE_HOSTNAME": HOST,
        "FUNKWHALE_ROLE": "web",
    }
    port = free_port()
    return launch(workdir, port, env, "--data-dir", str(workdir))[0], port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("requests", nargs="?", type=int, default=300)
    parser.add_argument("--before", type=Path, help="a checkout whose daemon is measured beside this one")
    args = parser.parse_args()
    with seeded_instance("fw-bench-request-path-", seed_playlist) as instance, ExitStack() as stack:
        conn = connect(instance.dsn)
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM playlist WHERE name = 'big'")
            playlist_id = cur.fetchone()["id"]
        conn.close()
        daemons = [("", instance.port)]
        if args.before is not None:
            workdir = Path(tempfile.mkdtemp(prefix="fw-bench-before-"))
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
            proc, port = start_before(args.before.resolve(), instance, workdir)
            stack.callback(stop, proc)
            daemons = [(" (before)", port), (" (after)", instance.port)]
        print(f"{'case':<24} {'c=1 p50':>8} {'c=16 rps':>9} {'SQL p50':>8} {'SQL share':>9} {'probe p50/max':>14}")
        for name, path, run in cases(playlist_id):
            sql = direct_ms(instance.dsn, run, runs=30)
            for label, port in daemons:
                print(measure(name + label, port, instance.cookie, path, args.requests, sql), flush=True)
        print(
            "c=1 p50: one client; SQL p50: the same statement through psycopg2 alone; SQL share: SQL p50 / c=1 p50;"
            f" probe: latency of {PROBE} (routing only) while that case runs at c=1, its max is the worst reactor stall"
        )


if __name__ == "__main__":
    main()
