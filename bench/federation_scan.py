"""How long B takes to scan a remote library of 2,000 tracks on A.

Two daemons (`twistd -n funkwhale`, role all) on one embedded PostgreSQL (a database each) and Redis (a database
number each), over plain HTTP on 127.0.0.2 (A) and 127.0.0.3 (B). A's database is seeded directly with an
`everyone` library of 2,000 finished uploads (100 artists, 200 albums, a cover and a genre per upload, as the
importer records them); B's with a user and a session. B's user fetches the library
(POST /api/v1/federation/libraries/fetch/) and starts a scan (POST .../scan/); the time is from that POST until
the scan says finished: 40 signed page fetches of 50 Audio, each page stored in one transaction.
Run: .venv/bin/python bench/federation_scan.py [tracks, default 2000]
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon import TWISTD, free_port

from funkwhale.db import schema
from funkwhale.db.pool import connect
from funkwhale.embedded import EmbeddedServers
from funkwhale.users.actors import key_pair
from funkwhale.users.tokens import hash_token

HOST_A, HOST_B = "127.0.0.2", "127.0.0.3"
CSRF = "bench-csrf-token"
LIBRARY = "00000000-0000-0000-0000-00000000000a"


def with_db(url: str, name: str) -> str:
    head, _, query = url.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def seed_a(dsn: str, base: str, tracks: int) -> None:
    """alice (an actor with a key) and her public library of `tracks` finished uploads."""
    private, public = key_pair()
    domain = base.split("://")[1].split(":")[0]
    fid = f"{base}/federation/actors/alice"
    conn = connect(dsn, dict_rows=False)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO domain (name) VALUES (%s) ON CONFLICT DO NOTHING", (domain,))
        cur.execute(
            "INSERT INTO actor (fid, url, preferred_username, domain, inbox_url, outbox_url, shared_inbox_url,"
            " followers_url, following_url, public_key, private_key) VALUES (%s, %s, 'alice', %s, %s, %s, %s, %s,"
            " %s, %s, %s) RETURNING id",
            (fid, f"{base}/@alice", domain, f"{fid}/inbox", f"{fid}/outbox", f"{base}/federation/shared/inbox",
             f"{fid}/followers", f"{fid}/following", public, private),
        )  # fmt: skip
        actor = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO library (uuid, fid, actor_id, name, privacy_level) VALUES (%s, %s, %s, 'bench', 'everyone')",
            (LIBRARY, f"{base}/federation/music/libraries/{LIBRARY}", actor),
        )
        albums, artists = tracks // 10, tracks // 20
        music = f"{base}/federation/music"
        cur.execute(
            "INSERT INTO artist (uuid, fid, name, name_key, attributed_to_id) SELECT u, %s || u, 'Artist ' || n,"
            " 'artist ' || n, %s FROM (SELECT n, gen_random_uuid() u FROM generate_series(1, %s) n) s",
            (f"{music}/artists/", actor, artists),
        )
        cur.execute(
            "INSERT INTO album (uuid, fid, title, title_key, artist_id, release_date, attributed_to_id) SELECT u,"
            " %s || u, 'Album ' || n, 'album ' || n, 1 + n %% %s, '2020-01-01', %s"
            " FROM (SELECT n, gen_random_uuid() u FROM generate_series(1, %s) n) s",
            (f"{music}/albums/", artists, actor, albums),
        )
        cur.execute(
            "INSERT INTO track (uuid, fid, title, title_key, album_id, position, disc_number, artist_id,"
            " attributed_to_id) SELECT u, %s || u, 'Track ' || n, 'track ' || n, 1 + n %% %s, 1 + (n / %s) %% 12, 1,"
            " 1 + (n %% %s) %% %s, %s FROM (SELECT n, gen_random_uuid() u FROM generate_series(0, %s - 1) n) s",
            (f"{music}/tracks/", albums, albums, albums, artists, actor, tracks),
        )
        cur.execute(
            "INSERT INTO attachment (file, mimetype, size, checksum) SELECT 'attachments/' || n || '.jpg',"
            " 'image/jpeg', 20000, md5(n::text) FROM generate_series(1, %s) n",
            (albums,),
        )
        cur.execute(
            "INSERT INTO upload (uuid, fid, library_id, track_id, album_id, attachment_cover_id, import_status,"
            " mimetype, size, duration, bitrate, audio_file, metadata) SELECT t.u, %s || t.u, 1, t.id, t.album_id,"
            " t.album_id, 'finished', 'audio/mpeg', 4000000, 200, 128000, 'tracks/' || t.id || '.mp3',"
            ' \'{"license": "cc-by-4.0", "copyright": "2020"}\''
            " FROM (SELECT gen_random_uuid() u, id, album_id FROM track) t",
            (f"{music}/uploads/",),
        )
        cur.execute("INSERT INTO tag (name) SELECT 'Genre ' || n FROM generate_series(1, 20) n")
        cur.execute(
            "INSERT INTO tagged_item (tag_id, object_type, object_id, upload_id) SELECT 1 + t.id % 20, kind.name,"
            " CASE kind.name WHEN 'track' THEN t.id ELSE t.album_id END, u.id FROM track t"
            " JOIN upload u ON u.track_id = t.id CROSS JOIN (VALUES ('track'), ('album')) kind (name)"
        )
        cur.execute("ANALYZE")
    conn.close()


def seed_b(dsn: str, base: str) -> str:
    """bob, with a session; its key."""
    domain = base.split("://")[1].split(":")[0]
    conn = connect(dsn, dict_rows=False)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO domain (name) VALUES (%s) ON CONFLICT DO NOTHING", (domain,))
        private, public = key_pair()
        cur.execute(
            "INSERT INTO actor (fid, preferred_username, domain, public_key, private_key)"
            " VALUES (%s, 'bob', %s, %s, %s) RETURNING id",
            (f"{base}/federation/actors/bob", domain, public, private),
        )
        actor = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO users (username, email, password, actor_id) VALUES ('bob', 'b@example.org', '!', %s)"
            " RETURNING id",
            (actor,),
        )
        key = secrets.token_urlsafe(32)
        cur.execute(
            "INSERT INTO session (key_hash, user_id, csrf_token, expire_date) VALUES (%s, %s, %s, %s)",
            (hash_token(key), cur.fetchone()[0], CSRF, datetime.now(UTC) + timedelta(days=1)),
        )
    conn.close()
    return key


def start(root: Path, host: str, port: int, database_url: str, redis_url: str) -> subprocess.Popen:
    root.mkdir()
    env = {
        **os.environ,
        "FUNKWHALE_DATABASE_URL": database_url,
        "FUNKWHALE_REDIS_URL": redis_url,
        "FUNKWHALE_HOSTNAME": f"{host}:{port}",
        "FUNKWHALE_PROTOCOL": "http",
        "FUNKWHALE_EXTERNAL_REQUESTS_ALLOW_PRIVATE_NETWORKS": "true",
    }
    listen = f"tcp:{port}:interface={host}"
    proc = subprocess.Popen(
        [str(TWISTD), "-n", "--pidfile=", "funkwhale", "--data-dir", str(root), "--listen", listen],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=root,
        env=env,
    )
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/api/v1/health/", timeout=5) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("a daemon did not answer within 120 s")


def call(host: str, port: int, method: str, path: str, key: str, body: dict | None = None) -> dict:
    conn = http.client.HTTPConnection(host, port, timeout=120)
    headers = {"Cookie": f"sessionid={key}; csrftoken={CSRF}", "X-CSRFToken": CSRF}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
    resp = conn.getresponse()
    data = json.loads(resp.read())
    if resp.status != 200:
        raise SystemExit(f"{method} {path}: {resp.status} {data}")
    return data


def main() -> None:
    tracks = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    root = Path(tempfile.mkdtemp(prefix="fw-bench-fedscan-"))
    embedded = EmbeddedServers(str(root / "servers"), postgres=True, redis=True)
    daemons: list[subprocess.Popen] = []
    try:
        embedded.start()
        db_a = embedded.database_url
        conn = connect(db_a)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE fw_peer")
        conn.close()
        db_b = with_db(db_a, "fw_peer")
        for url in (db_a, db_b):
            schema.upgrade(url)
        port_a, port_b = free_port(), free_port()
        base_a = f"http://{HOST_A}:{port_a}"
        seed_a(db_a, base_a, tracks)
        key = seed_b(db_b, f"http://{HOST_B}:{port_b}")
        redis_b = embedded.redis_url + ("&" if "?" in embedded.redis_url else "?") + "db=1"
        daemons.append(start(root / "a", HOST_A, port_a, db_a, embedded.redis_url))
        daemons.append(start(root / "b", HOST_B, port_b, db_b, redis_b))
        fid = f"{base_a}/federation/music/libraries/{LIBRARY}"
        library = call(HOST_B, port_b, "POST", "/api/v1/federation/libraries/fetch/", key, {"fid": fid})["results"][0]
        t0 = time.perf_counter()
        call(HOST_B, port_b, "POST", f"/api/v1/federation/libraries/{library['uuid']}/scan/", key)
        while True:
            scan = call(HOST_B, port_b, "GET", f"/api/v1/federation/libraries/{library['uuid']}/", key)["latest_scan"]
            if scan["status"] in ("finished", "errored"):
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        t1 = time.perf_counter()
        for page in range(1, (tracks + 49) // 50 + 1):
            with urllib.request.urlopen(f"{fid}?page={page}", timeout=60) as resp:
                resp.read()
        print(f"A serves the {(tracks + 49) // 50} pages alone (unsigned GETs) in {time.perf_counter() - t1:.2f} s")
        print(
            f"B scanned {scan['processed_files']} of {tracks} uploads ({scan['errored_files']} refused, status"
            f" {scan['status']}) in {elapsed:.2f} s: {scan['processed_files'] / elapsed:.0f} uploads/s"
        )
    finally:
        for proc in daemons:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        embedded.stop(only_started_here=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
