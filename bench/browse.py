"""Browse and search latency on a generated library of 20,000 tracks.

Seeds 500 artists, 2,000 albums, 20,000 tracks (one finished upload each with a cover and a tag, as the importer
records them) into a fresh embedded PostgreSQL, and a year of history (`seed_history`): the bench user's 50,000
listenings of 8,000 tracks, 2,000 favorites, 300 starred albums, 100 starred artists and 1,000 ratings, and 10
other users' 20,000 listenings each (`--no-history` leaves the library without it); starts the daemon
(`twistd -n funkwhale`) against it, then times GET requests over real HTTP: the first and a deep page of
/api/v1/tracks/, /albums/, /artists/ (page_size=50), /api/v1/search, and the bench user's listening history (and
everyone's: scope=all) and favorites, at several concurrencies (requests/s, p50, p99), beside the same SQL run
directly with psycopg2 (the limit: prepared on its connection, as the daemon runs it), and the ratios of the two;
then, with wrk installed, the same at the highest concurrency with wrk as the client (bench/wrk.py).
Run: .venv/bin/python bench/browse.py [requests per case, default 200] [--no-history]
"""

from __future__ import annotations

import http.client
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cpu import CpuSplit
from daemon import free_port, launch
from psycopg2.extras import execute_values
from wrk import wrk

from funkwhale.db import schema
from funkwhale.db.pool import connect
from funkwhale.embedded import EmbeddedServers
from funkwhale.music.catalog import store
from funkwhale.music.normalize import fold
from funkwhale.music.visibility import Viewer
from funkwhale.social import store as social
from funkwhale.users.tokens import hash_token

HOST = "bench.funkwhale.local"
CSRF = "bench-csrf-token"
WARM_UP = 10  # requests before each measured case
SETTLE = 3.0  # seconds after the daemon answers, before measuring
ARTISTS, ALBUMS, TRACKS = 500, 2000, 20000
# The seeded history (seed_history): the bench user's listenings of the tracks of LISTENED_ALBUMS albums, favorites,
# stars and ratings, and OTHER_USERS users' OTHER_LISTENINGS listenings each over the whole catalog.
LISTENINGS, LISTENED_ALBUMS, FAVORITES, STARRED_ALBUMS, STARRED_ARTISTS, RATINGS = 50_000, 800, 2000, 300, 100, 1000
OTHER_USERS, OTHER_LISTENINGS = 10, 20_000
SYLLABLES = "ka lo mi ne ru sa ti vo ze an el or us ith bel dor fen gar hal jor kyr lum mar nor pel quin".split()
NAMED = ["Metallica", "Beyoncé", "Björk Quartet", "The Night Owls", "Sigur Rós", "坂本 Trio", "Кино"]
CASES = [
    ("tracks p1", "/api/v1/tracks/?page_size=50"),
    ("tracks p200", "/api/v1/tracks/?page_size=50&page=200"),
    ("tracks album", "/api/v1/tracks/?album=1000&ordering=disc_number,position"),
    ("tracks -date", "/api/v1/tracks/?page_size=50&page=10&ordering=-creation_date"),
    ("albums p1", "/api/v1/albums/?page_size=50"),
    ("albums p20", "/api/v1/albums/?page_size=50&page=20&ordering=title"),
    ("artists p1", "/api/v1/artists/?page_size=50"),
    ("artists p5", "/api/v1/artists/?page_size=50&page=5&ordering=name"),
    ("tracks q", "/api/v1/tracks/?page_size=50&q=kalo"),
    ("search", "/api/v1/search?q=metalica"),
    ("search 2", "/api/v1/search?q=nigth%20owls"),
    ("listenings p1", "/api/v1/history/listenings/?page_size=50"),
    ("listenings all", "/api/v1/history/listenings/?page_size=50&scope=all"),  # every user's: its count is cached
    ("favorites p1", "/api/v1/favorites/tracks/?page_size=50"),
]


def word(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(parts)).capitalize()


def scaled(count: int, scale: float) -> int:
    """`count` (one of the constants above, the 20,000-track library's shape) in a library `scale` times its size."""
    return max(1, round(count * scale))


def seed(dsn: str, history: bool = True, scale: float = 1.0) -> str:
    """Fill the catalog, and with `history` the users' history (seed_history); returns a session key for the
    library's owner. `scale` sizes the library and its history (0.1: 50 artists, 200 albums, 2,000 tracks)."""
    artists, albums, tracks = (scaled(n, scale) for n in (ARTISTS, ALBUMS, TRACKS))
    rng = random.Random(42)
    base = f"http://{HOST}"
    now = datetime.now(UTC)
    conn = connect(dsn, dict_rows=False)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO domain (name) VALUES (%s)", (HOST,))
        cur.execute(
            "INSERT INTO actor (fid, preferred_username, domain) VALUES (%s, 'bench', %s) RETURNING id",
            (f"{base}/federation/actors/bench", HOST),
        )
        actor_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO users (username, email, password, actor_id) VALUES ('bench', 'b@example.org', '!', %s)"
            " RETURNING id",
            (actor_id,),
        )
        user_id = cur.fetchone()[0]
        key = secrets.token_urlsafe(32)
        cur.execute(
            "INSERT INTO session (key_hash, user_id, csrf_token, expire_date) VALUES (%s, %s, %s, %s)",
            (hash_token(key), user_id, CSRF, now + timedelta(days=1)),
        )
        cur.execute(
            "INSERT INTO library (fid, actor_id, name, privacy_level) VALUES (%s, %s, 'bench', 'me') RETURNING id",
            (f"{base}/federation/music/libraries/bench", actor_id),
        )
        library_id = cur.fetchone()[0]
        names = NAMED + [f"{word(rng, 2)} {word(rng, 2)}" for _ in range(artists - len(NAMED))]
        rows = [(f"{base}/artists/{i}", n, fold(n), now - timedelta(minutes=i)) for i, n in enumerate(names)]
        execute_values(cur, "INSERT INTO artist (fid, name, name_key, creation_date) VALUES %s", rows)
        rows = []
        for i in range(albums):
            title = f"{word(rng, 3)} {word(rng, 1)}"
            released = datetime(1960 + rng.randrange(60), 1 + rng.randrange(12), 1).date()
            rows.append(
                (f"{base}/albums/{i}", title, fold(title), 1 + i % artists, released, now - timedelta(minutes=i))
            )
        execute_values(
            cur, "INSERT INTO album (fid, title, title_key, artist_id, release_date, creation_date) VALUES %s", rows
        )
        rows = []
        for i in range(tracks):
            title = f"{word(rng, 2)} {word(rng, 2)}"
            album = 1 + i % albums
            rows.append(
                (
                    f"{base}/tracks/{i}",
                    title,
                    fold(title),
                    1 + (album - 1) % artists,
                    album,
                    1 + (i // albums) % 12,
                    1,
                    now - timedelta(seconds=i),
                )
            )
        execute_values(
            cur,
            "INSERT INTO track (fid, title, title_key, artist_id, album_id, position, disc_number, creation_date)"
            " VALUES %s",
            rows,
            page_size=2000,
        )
        cur.execute(
            "INSERT INTO upload (fid, library_id, track_id, import_status, mimetype, size, duration, bitrate,"
            " audio_file) SELECT %s || id, %s, id, 'finished', 'audio/mpeg', 4000000, 200, 128000,"
            " 'tracks/' || id || '.mp3' FROM track",
            (f"{base}/uploads/", library_id),
        )
        execute_values(cur, "INSERT INTO tag (name) VALUES %s", [(f"Genre {i}",) for i in range(20)])
        # as the importer records them: each upload's cover (one picture per album) and the genre read from its file,
        # on its track and its album
        cur.execute(
            "INSERT INTO attachment (file, mimetype, size, checksum) SELECT 'attachments/' || n || '.jpg',"
            " 'image/jpeg', 20000, md5(n::text) FROM generate_series(1, %s) n",
            (albums,),
        )
        cur.execute(
            "UPDATE upload u SET attachment_cover_id = t.album_id, album_id = t.album_id FROM track t"
            " WHERE t.id = u.track_id"
        )
        cur.execute(
            "INSERT INTO tagged_item (tag_id, object_type, object_id, upload_id) SELECT 1 + t.id % 20, kind.name,"
            " CASE kind.name WHEN 'track' THEN t.id ELSE t.album_id END, u.id FROM track t"
            " JOIN upload u ON u.track_id = t.id CROSS JOIN (VALUES ('track'), ('album')) kind (name)"
        )
        if history:
            seed_history(cur, user_id, scale)
    # After the commit, when the visibility facts' triggers have run: statistics, and the visibility maps that
    # autovacuum leaves a running instance's tables with after such inserts (index-only scans read no rows).
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    return key


def seed_history(cur: Any, user_id: int, scale: float = 1.0) -> None:
    """A year of history, set-based and reproducible (setseed), as a real instance holds it:
    - the user `user_id` listened LISTENINGS times to the tracks of LISTENED_ALBUMS albums (a few albums and tracks
      often, most rarely: squared uniform draws), made FAVORITES of the tracks they listened to, starred
      STARRED_ALBUMS of those albums and STARRED_ARTISTS of their artists, and rated RATINGS tracks, albums and
      artists (7:2:1);
    - OTHER_USERS other users listened OTHER_LISTENINGS times each over the whole catalog (each in an order of
      their own), so that every track has the listenings of several users;
    each count but OTHER_USERS `scale` times as many, in a library `scale` times the size."""
    size = {
        name: scaled(count, scale)
        for name, count in [
            ("artists", ARTISTS), ("albums", ALBUMS), ("tracks", TRACKS), ("listenings", LISTENINGS),
            ("listened", LISTENED_ALBUMS), ("favorites", FAVORITES), ("starred_albums", STARRED_ALBUMS),
            ("starred_artists", STARRED_ARTISTS), ("ratings", RATINGS), ("others", OTHER_LISTENINGS),
        ]
    }  # fmt: skip
    cur.execute("SELECT setseed(0.42)")
    # the seed's track ids are 1..TRACKS and track t belongs to album 1 + (t - 1) % ALBUMS: album a's tracks are
    # a, a + ALBUMS, a + 2 * ALBUMS, ...; the listened albums are spread over the catalog (997 is prime to ALBUMS)
    cur.execute(
        "INSERT INTO listening (user_id, track_id, creation_date, source) SELECT %(user)s,"
        " 1 + (floor(%(albums)s * random() ^ 2)::int * 997) %% %(all)s + %(all)s * floor(random() * %(per)s)::int,"
        " now() - interval '365 days' * random(), 'web' FROM generate_series(1, %(n)s)",
        {
            "user": user_id,
            "albums": size["listened"],
            "all": size["albums"],
            "per": size["tracks"] // size["albums"],
            "n": size["listenings"],
        },
    )
    cur.execute(
        "INSERT INTO track_favorite (user_id, track_id, creation_date) SELECT %(user)s, track_id,"
        " now() - interval '365 days' * random() FROM (SELECT DISTINCT track_id FROM listening"
        " WHERE user_id = %(user)s ORDER BY track_id) l ORDER BY random() LIMIT %(n)s",
        {"user": user_id, "n": size["favorites"]},
    )
    for table, column, source, n in (
        ("starred_album", "album_id", "t.album_id", size["starred_albums"]),
        ("starred_artist", "artist_id", "t.artist_id", size["starred_artists"]),
    ):
        cur.execute(
            f"INSERT INTO {table} (user_id, {column}, creation_date) SELECT %(user)s, id,"
            f" now() - interval '365 days' * random() FROM (SELECT DISTINCT {source} AS id FROM listening l"
            " JOIN track t ON t.id = l.track_id WHERE l.user_id = %(user)s ORDER BY 1) o ORDER BY random()"
            " LIMIT %(n)s",
            {"user": user_id, "n": n},
        )
    cur.execute(
        "INSERT INTO rating (user_id, object_type, object_id, rating, modification_date) SELECT %(user)s, kind, id,"
        " 1 + floor(random() * 5)::int, now() - interval '365 days' * random() FROM (SELECT 'track' AS kind, id,"
        " 7 AS share FROM track UNION ALL SELECT 'album', id, 2 FROM album UNION ALL SELECT 'artist', id, 1"
        " FROM artist) o WHERE random() < share * %(n)s / 10.0"
        " / (CASE kind WHEN 'track' THEN %(tracks)s WHEN 'album' THEN %(albums)s ELSE %(artists)s END)",
        {"user": user_id, "n": size["ratings"], **{k: size[k] for k in ("tracks", "albums", "artists")}},
    )
    cur.execute(
        "INSERT INTO users (username, email, password) SELECT 'listener' || n, 'listener' || n || '@example.org',"
        " '!' FROM generate_series(1, %s) n",
        (OTHER_USERS,),
    )
    cur.execute(
        "INSERT INTO listening (user_id, track_id, creation_date, source) SELECT u.id,"
        " 1 + (floor(%(all)s * random() ^ 2)::int * (ARRAY[7919, 7927, 7933, 7937, 7949, 7951, 7963, 7993, 8009,"
        " 8011])[1 + u.id %% 10] + 13 * u.id) %% %(all)s,"  # primes: each user's own order of the catalog
        " now() - interval '365 days' * random(), 'web' FROM users u CROSS JOIN generate_series(1, %(n)s)"
        " WHERE u.username LIKE 'listener%%'",
        {"all": size["tracks"], "n": size["others"]},
    )


def start_daemon(
    data_dir: Path, port: int, database_url: str, redis_url: str, web_processes: int | None = None
) -> subprocess.Popen:
    """The daemon, role web, on the seeded servers; FUNKWHALE_WEB_PROCESSES `web_processes` (default: the cores)."""
    env = {
        **os.environ,
        "FUNKWHALE_DATABASE_URL": database_url,
        "FUNKWHALE_REDIS_URL": redis_url,
        "FUNKWHALE_HOSTNAME": HOST,
        "FUNKWHALE_ROLE": "web",
    }
    if web_processes is not None:
        env["FUNKWHALE_WEB_PROCESSES"] = str(web_processes)
    return launch(data_dir, port, env, "--data-dir", str(data_dir))[0]


def get(conn: http.client.HTTPConnection, path: str, cookie: str) -> tuple[int, bytes]:
    return call(conn, "GET", path, cookie)


def call(
    conn: http.client.HTTPConnection, method: str, path: str, cookie: str, body: bytes | None = None
) -> tuple[int, bytes]:
    """One request with the session cookie; a body is sent as JSON with the CSRF token the seed gave the session."""
    headers = {"Cookie": cookie}
    if body is not None:
        headers.update(
            {"Content-Type": "application/json", "X-CSRFToken": CSRF, "Cookie": f"{cookie}; csrftoken={CSRF}"}
        )
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def run_case(
    port: int, cookie: str, path: str, requests: int, concurrency: int, before: Callable[[], Any] | None = None
) -> tuple[float, float, float]:
    """(requests per second, p50 ms, p99 ms) of `requests` GETs of `path` by `concurrency` clients; `before`,
    when given, runs ahead of each request and is timed with it."""

    def worker(count: int) -> list[float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            if before is not None:
                before()
            status, _ = get(conn, path, cookie)
            times.append(time.perf_counter() - t0)
            if status != 200:
                raise SystemExit(f"{path} answered {status}")
        conn.close()
        return times

    shares = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        times = [t for part in pool.map(worker, shares) for t in part]
    elapsed = time.perf_counter() - t0
    return len(times) / elapsed, statistics.median(times) * 1000, percentile(times, 0.99) * 1000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def direct_ms(dsn: str, run: Callable[[Any, Viewer], Any], runs: int = 50) -> float:
    """p50 of `run(cursor, viewer)` for the seeded user, through psycopg2 in this process (no HTTP, no JSON), on one
    connection: the store's statements are prepared there once and then executed (funkwhale/db/prepared.py), as on
    each connection of the daemon's pool; each run is rolled back, so a measured write (a radio draw) leaves
    nothing behind (a rollback keeps what was prepared)."""
    conn = connect(dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT actor_id, id FROM users WHERE username = 'bench'")
        row = cur.fetchone()
    viewer = Viewer(user_id=row["id"], actor_id=row["actor_id"])
    times = []
    for _ in range(runs):
        with conn.cursor() as cur:
            t0 = time.perf_counter()
            run(cur, viewer)
            times.append(time.perf_counter() - t0)
        conn.rollback()
    conn.close()
    return statistics.median(times) * 1000


def catalog_statement(path: str) -> Callable[[Any, Viewer], Any]:
    """The catalog statement behind a list or search URL of CASES (or the user's listenings or favorites page)."""
    parts = urlsplit(path)
    args = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for kind in social.ACTIVITY_TABLES:
        if f"/{kind}/" in parts.path:
            mine = args.get("scope") != "all"  # the page alone: its count is kept apart (funkwhale/social/counts.py)
            return lambda cur, viewer: social.list_txn(
                cur, kind, social.Listing(viewer, mine=mine, limit=50, counted=False)
            )
    if parts.path.endswith("/search"):
        return lambda cur, viewer: store.search_txn(cur, viewer, fold(args["q"]), 10, args["q"])
    kind = parts.path.rstrip("/").rsplit("/", 1)[1][:-1]
    size = int(args.get("page_size", 50))
    filters = store.Filters(q=fold(args.get("q", "")), album=int(args["album"]) if "album" in args else None)
    ordering = tuple(args["ordering"].split(",")) if "ordering" in args else ()
    offset = (int(args.get("page", 1)) - 1) * size
    return lambda cur, viewer: store.page_txn(cur, kind, store.Listing(viewer, filters, ordering, size, offset))


CONCURRENCIES = (1, 8, 16)


def header(width: int, concurrencies: tuple[int, ...]) -> str:
    cells = " | ".join(f"c={c:<2} req/s   p50    p99" for c in concurrencies)
    return f"{'case':<{width}} {'SQL p50':>8} | {cells} | {'p50/SQL':>7} {'rps/SQL':>7}"


def measure(port: int, cookie: str, path: str, requests: int, concurrencies: tuple[int, ...]) -> list[tuple]:
    """(rps, p50, p99) of `path` at each concurrency, after a warm-up."""
    run_case(port, cookie, path, WARM_UP, 1)
    return [run_case(port, cookie, path, requests, c) for c in concurrencies]


def measure_cpu(
    instance: Instance, path: str, requests: int, concurrencies: tuple[int, ...], cookie: str | None = None
) -> tuple[list[tuple], str]:
    """`measure` (with the seeded session unless `cookie` is given), and the CPU each measured request cost the
    daemon, PostgreSQL, Redis and the client (bench/cpu.py)."""
    cookie = instance.cookie if cookie is None else cookie
    run_case(instance.port, cookie, path, WARM_UP, 1)
    with CpuSplit(instance.daemon_pid, instance.servers_dir) as split:
        cells = [run_case(instance.port, cookie, path, requests, c) for c in concurrencies]
    cpu = split.per_request(requests * len(concurrencies))
    with CpuSplit(instance.daemon_pid, instance.servers_dir) as split:
        loaded = wrk(instance.port, path, cookie, max(concurrencies))
    if loaded is not None:
        done, rate, p50, p99 = loaded
        figures = f"{rate:.0f} req/s p50 {p50:.1f} p99 {p99:.1f}"
        cpu += f"\n{'':<14} wrk c={max(concurrencies)}: {figures}; {split.per_request(done)}"
    return cells, cpu


def row(name: str, width: int, sql_ms: float, cells: list[tuple[float, float, float]]) -> str:
    """One line: the statement alone (p50 through psycopg2), the HTTP figures, and two ratios: the HTTP p50 at
    c=1 over the SQL p50 (what the request adds), and the requests/s at the highest concurrency over the rate of
    the statement alone on one connection (1000 / SQL p50)."""
    figures = " | ".join(f"{rps:8.0f} {p50:6.1f} {p99:6.1f}" for rps, p50, p99 in cells)
    ratios = f"{cells[0][1] / sql_ms:6.1f}x {cells[-1][0] * sql_ms / 1000:6.2f}x"
    return f"{name:<{width}} {sql_ms:5.1f} ms | {figures} | {ratios}"


@dataclass
class Instance:
    """A daemon (role web) on a seeded library: its database, port, the seeded user's session cookie, its Redis."""

    dsn: str
    port: int
    cookie: str
    redis_url: str = ""
    daemon_pid: int = 0
    servers_dir: Path = Path()


@contextmanager
def seeded_instance(
    prefix: str,
    prepare: Callable[[str], None] | None = None,
    web_processes: int | None = None,
    history: bool = True,
    scale: float = 1.0,
) -> Iterator[Instance]:
    """Embedded servers in a temporary directory, the seeded library (`scale` times the 20,000-track one, with its
    `history`), `prepare(dsn)` if given, then the daemon (with `web_processes`, default the cores); everything is
    stopped and removed on exit."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    embedded = EmbeddedServers(str(root / "servers"), postgres=True, redis=True)
    proc = None
    try:
        embedded.start()
        schema.upgrade(embedded.database_url)
        t0 = time.perf_counter()
        key = seed(embedded.database_url, history, scale)
        listenings = scaled(LISTENINGS, scale) + OTHER_USERS * scaled(OTHER_LISTENINGS, scale)
        held = f", {listenings} listenings" if history else " (no history)"
        shape = ", ".join(f"{scaled(n, scale)} {what}" for n, what in ((ARTISTS, "artists"), (ALBUMS, "albums")))
        print(f"seeded {shape}, {scaled(TRACKS, scale)} tracks{held} in {time.perf_counter() - t0:.1f} s")
        if prepare is not None:
            prepare(embedded.database_url)
        port = free_port()
        (root / "daemon").mkdir()
        proc = start_daemon(root / "daemon", port, embedded.database_url, embedded.redis_url, web_processes)
        time.sleep(SETTLE)  # the web children start after the daemon answers: their start is not a request's
        yield Instance(embedded.database_url, port, f"sessionid={key}", embedded.redis_url, proc.pid, root / "servers")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        embedded.stop(only_started_here=False)
        shutil.rmtree(root, ignore_errors=True)


def command_line() -> tuple[int, bool]:
    """(requests per case: the first number given, default 200; whether to seed the history: unless
    `--no-history` is given)."""
    numbers = [int(arg) for arg in sys.argv[1:] if arg.isdigit()]
    return (numbers[0] if numbers else 200), "--no-history" not in sys.argv[1:]


def main() -> None:
    requests, history = command_line()
    with seeded_instance("fw-bench-browse-", history=history) as instance:
        print(header(14, CONCURRENCIES))
        for name, path in CASES:
            cells, cpu = measure_cpu(instance, path, requests, CONCURRENCIES)
            print(row(name, 14, direct_ms(instance.dsn, catalog_statement(path)), cells))
            print(f"{'':<14} {cpu}")
        print(
            "latencies in ms; SQL = the page's statement through psycopg2, prepared as the daemon runs it, without"
            " HTTP or JSON (a list's count is apart, cached in Redis: see funkwhale/music/catalog/counts.py)"
        )


if __name__ == "__main__":
    main()
