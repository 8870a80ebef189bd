"""Radio next-track latency and a 1,000-track playlist, on the generated library of 20,000 tracks.

Seeds the library of bench/browse.py (20 tags of 1,000 tracks each), starts the daemon, then over real HTTP:
- a random radio, a tag radio and a less-listened one (by the seeded history): POST /api/v1/radios/tracks/ draws,
  by one listener (one session, 300 draws) and by 16 at once (16 sessions, 50 draws each); requests/s, p50, p99.
  Each draw excludes what its session already played, so later draws of a session scan a slightly smaller pool;
- a playlist filled to 1,000 tracks through POST /api/v1/playlists/{id}/add/ (the `playlists__max_tracks`
  preference is raised to 1,000 for it), then GET /api/v1/playlists/{id}/tracks/ whole and one page of 50;
beside the same statements run directly with psycopg2 (the limit). ANALYZE runs before measuring.
Run: .venv/bin/python bench/listener.py
"""

from __future__ import annotations

import http.client
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from browse import TRACKS, call, direct_ms, percentile, seeded_instance

from funkwhale.db.pool import connect
from funkwhale.playlists import store as playlists
from funkwhale.radios import store as radios

PLAYLIST_TRACKS = 1000
RADIOS = [
    ("random radio", {"radio_type": "random"}),
    ("tag radio", {"radio_type": "tag", "related_object_id": "Genre 3"}),
    ("less-listened radio", {"radio_type": "less-listened"}),  # by the listener's counts: the seed's history
]


def ok(status: int, body: bytes, expected: int) -> Any:
    if status != expected:
        raise SystemExit(f"answered {status}: {body[:200]!r}")
    return json.loads(body) if body else None


def draws(port: int, cookie: str, radio: dict[str, str], sessions: int, per_session: int) -> list[float]:
    """Times of `per_session` draws in each of `sessions` sessions run at once."""

    def listener(_: int) -> list[float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        created = ok(*call(conn, "POST", "/api/v1/radios/sessions/", cookie, json.dumps(radio).encode()), 201)
        body = json.dumps({"session": created["id"]}).encode()
        times = []
        for _ in range(per_session):
            t0 = time.perf_counter()
            ok(*call(conn, "POST", "/api/v1/radios/tracks/", cookie, body), 201)
            times.append(time.perf_counter() - t0)
        conn.close()
        return times

    with ThreadPoolExecutor(sessions) as pool:
        return [t for part in pool.map(listener, range(sessions)) for t in part]


def gets(port: int, cookie: str, path: str, requests: int, concurrency: int) -> list[float]:
    def worker(count: int) -> list[float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            ok(*call(conn, "GET", path, cookie), 200)
            times.append(time.perf_counter() - t0)
        conn.close()
        return times

    with ThreadPoolExecutor(concurrency) as pool:
        return [t for part in pool.map(worker, [requests // concurrency] * concurrency) for t in part]


def report(name: str, times: list[float], elapsed: float, limit_ms: float) -> None:
    print(
        f"{name:<30} {len(times) / elapsed:7.0f} req/s  p50 {statistics.median(times) * 1000:6.1f} ms"
        f"  p99 {percentile(times, 0.99) * 1000:6.1f} ms   direct SQL p50 {limit_ms:5.1f} ms"
    )


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t0


def fill_playlist(port: int, cookie: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    created = ok(*call(conn, "POST", "/api/v1/playlists/", cookie, b'{"name": "Big", "privacy_level": "me"}'), 201)
    step = TRACKS // PLAYLIST_TRACKS
    ids = [1 + i * step for i in range(PLAYLIST_TRACKS)]
    for start in range(0, PLAYLIST_TRACKS, 250):
        body = json.dumps({"tracks": ids[start : start + 250]}).encode()
        ok(*call(conn, "POST", f"/api/v1/playlists/{created['id']}/add/", cookie, body), 201)
    conn.close()
    return created["id"]


def raise_playlist_cap(dsn: str) -> None:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO instance_setting (name, value) VALUES ('playlists__max_tracks', %s)",
            (json.dumps(PLAYLIST_TRACKS),),
        )


def new_sessions(dsn: str) -> dict[str, int]:
    """A fresh radio session of each radio, for the direct measurement; ANALYZE first."""
    ids = {}
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("ANALYZE")
        cur.execute("SELECT id FROM users WHERE username = 'bench'")
        user_id = cur.fetchone()["id"]
        for name, radio in RADIOS:
            cur.execute(
                "INSERT INTO radio_session (user_id, radio_type, related_object_id) VALUES (%s, %s, %s) RETURNING id",
                (user_id, radio["radio_type"], radio.get("related_object_id")),
            )
            ids[name] = cur.fetchone()["id"]
    return ids


def main() -> None:
    with seeded_instance("fw-bench-listener-", prepare=raise_playlist_cap) as instance:
        dsn, port, cookie = instance.dsn, instance.port, instance.cookie
        draws(port, cookie, RADIOS[0][1], 1, 5)  # warm up
        session_ids = new_sessions(dsn)
        print(f"library: {TRACKS} tracks; tag radio pool: 1,000 tracks (one tag of 20)")
        for name, radio in RADIOS:
            sid = session_ids[name]
            limit = direct_ms(dsn, lambda cur, viewer, sid=sid: radios.next_track_txn(cur, viewer, sid))
            for sessions, per_session in ((1, 300), (16, 50)):
                times, elapsed = timed(draws, port, cookie, radio, sessions, per_session)
                report(f"{name} next track, c={sessions}", times, elapsed, limit)

        playlist_id = fill_playlist(port, cookie)
        with connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("ANALYZE")
        whole = direct_ms(dsn, lambda cur, viewer: playlists.tracks_txn(cur, viewer, playlist_id), runs=20)
        page = direct_ms(dsn, lambda cur, viewer: playlists.tracks_txn(cur, viewer, playlist_id, 450, 50))
        print(f"playlist of {PLAYLIST_TRACKS} tracks (added through the API in 4 requests of 250)")
        for concurrency in (1, 16):
            path = f"/api/v1/playlists/{playlist_id}/tracks/"
            times, elapsed = timed(gets, port, cookie, path, 64, concurrency)
            report(f"playlist tracks, all, c={concurrency}", times, elapsed, whole)
            times, elapsed = timed(gets, port, cookie, path + "?page=10&page_size=50", 320, concurrency)
            report(f"playlist tracks, page, c={concurrency}", times, elapsed, page)
        print("direct SQL = the same statement through psycopg2 in this process, without HTTP or JSON")


if __name__ == "__main__":
    main()
