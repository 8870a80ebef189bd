"""Remote playback: time to first byte and total time when B plays a track of A that B has not cached yet (B fetches
it, signed, from A and streams it as it arrives), beside a cached replay on B and the same file straight from A.

Starts two daemons on 127.0.0.1 (plain HTTP, each with its own embedded data dir; private addresses allowed for
their federation client), imports one generated 4-minute mp3 (320 kbps, about 9.6 MB) in place into a public
library of A, writes on B the remote rows a library scan would (actor, library, artist, track, upload whose source
is A's listen URL), then times B's /api/v1/listen/ for it: uncached, then cached. Each round forgets B's copy again.
Run: .venv/bin/python bench/federation_remote_play.py [rounds, default 3]
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from daemon import free_port, launch, stop
from stream import create_user, login
from tones import tone

from funkwhale.cli import database
from funkwhale.config import load_settings

BIN = Path(sys.executable).parent


def timed(port: int, path: str, cookie: str) -> tuple[float, float, int]:
    """(seconds to the first body byte, seconds to the last, body size)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    resp = conn.getresponse()
    first = resp.read(1)
    ttfb = time.perf_counter() - t0
    size = len(first) + len(resp.read())
    total = time.perf_counter() - t0
    conn.close()
    assert resp.status == 200, (path, resp.status)
    return ttfb, total, size


def sql(env: dict[str, str], statement: str, *args: Any) -> list[dict[str, Any]]:
    """Run a statement in the database of the daemon whose environment is `env` (attached while it runs)."""
    with database(load_settings(env), migrate=False) as (_, conn), conn.cursor() as cur:
        cur.execute(statement, args)
        return cur.fetchall() if cur.description else []


def instance(work: Path, name: str) -> tuple[dict[str, str], int]:
    port = free_port()
    env = {
        **os.environ,
        "FUNKWHALE_DATA_DIR": str(work / name),
        "FUNKWHALE_HOSTNAME": f"127.0.0.1:{port}",
        "FUNKWHALE_PROTOCOL": "http",
        "FUNKWHALE_EXTERNAL_REQUESTS_ALLOW_PRIVATE_NETWORKS": "true",
        "FUNKWHALE_MUSIC_DIRECTORIES": str(work / "music"),
    }
    return env, port


def publish(env: dict[str, str], port: int, music: Path) -> dict[str, Any]:
    """Import the music folder into a public library of A; the upload and its track."""
    cookie = login(port)
    csrf = [c.split("=", 1)[1] for c in cookie.split("; ") if c.startswith("csrftoken=")][0]
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("POST", "/api/v1/libraries/", json.dumps({"name": "bench", "privacy_level": "everyone"}),
                 {"Cookie": cookie, "X-CSRFToken": csrf, "Content-Type": "application/json"})  # fmt: skip
    library = json.loads(conn.getresponse().read())["uuid"]
    subprocess.run([str(BIN / "funkwhale"), "import", str(music), "--library", library, "--in-place"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    return sql(
        env,
        """SELECT u.uuid, u.fid, u.mimetype, u.size, u.duration, u.bitrate, t.uuid AS track_uuid,
                       t.title, t.fid AS track_fid, ar.name AS artist, ar.fid AS artist_fid
                       FROM upload u JOIN track t ON t.id = u.track_id JOIN artist ar ON ar.id = t.artist_id""",
    )[0]


def mirror(env: dict[str, str], origin: str, upload: dict[str, Any]) -> str:
    """The rows B keeps for A's upload (as a library scan writes them); B's listen path for it."""
    domain = origin.split("://", 1)[1]
    source = f"{origin}/api/v1/listen/{upload['track_uuid']}/?upload={upload['uuid']}&download=false"
    rows = _mirror_rows(env, domain, f"{origin}/federation/actors/bench", source, upload)
    return f"/api/v1/listen/{rows['track_uuid']}/?upload={rows['uuid']}&download=false"


def _mirror_rows(env: dict[str, str], domain: str, actor: str, source: str, upload: dict[str, Any]) -> dict[str, Any]:
    with database(load_settings(env), migrate=False) as (_, conn), conn.cursor() as cur:
        cur.execute("INSERT INTO domain (name) VALUES (%s) ON CONFLICT DO NOTHING", (domain,))
        cur.execute("INSERT INTO actor (fid, preferred_username, domain, type) VALUES (%s, 'bench', %s, 'Person')"
                    " RETURNING id", (actor, domain))  # fmt: skip
        actor_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO library (fid, actor_id, name, privacy_level) VALUES (%s, %s, 'bench', 'everyone')"
                    " RETURNING id", (f"{actor}/libraries/{uuid.uuid4()}", actor_id))  # fmt: skip
        library_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO artist (fid, name, name_key) VALUES (%s, %s, %s) RETURNING id",
                    (upload["artist_fid"], upload["artist"], upload["artist"].lower()))  # fmt: skip
        artist_id = cur.fetchone()["id"]
        cur.execute("INSERT INTO track (fid, title, title_key, artist_id) VALUES (%s, %s, %s, %s) RETURNING id, uuid",
                    (upload["track_fid"], upload["title"], upload["title"].lower(), artist_id))  # fmt: skip
        track = cur.fetchone()
        cur.execute(
            """INSERT INTO upload (fid, library_id, track_id, import_status, mimetype, size, duration, bitrate, source)
               VALUES (%s, %s, %s, 'finished', %s, %s, %s, %s, %s) RETURNING uuid""",
            (upload["fid"], library_id, track["id"], upload["mimetype"], upload["size"], upload["duration"],
             upload["bitrate"], source),
        )  # fmt: skip
        return {"uuid": cur.fetchone()["uuid"], "track_uuid": track["uuid"]}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    work = Path(tempfile.mkdtemp(prefix="fw-bench-remote-"))
    music = work / "music"
    music.mkdir()
    tags = ["-metadata", "title=Far", "-metadata", "artist=Bench"]
    tone(music / "long.mp3", 240, 330, "-ac", "2", "-b:a", "320k", *tags)
    env_a, port_a = instance(work, "a")
    env_b, port_b = instance(work, "b")
    a, _ = launch(work, port_a, env_a)
    try:
        b, _ = launch(work, port_b, env_b)
        try:
            create_user(env_a)
            create_user(env_b)
            upload = publish(env_a, port_a, music)
            path = mirror(env_b, f"http://127.0.0.1:{port_a}", upload)
            cookie_a, cookie_b = login(port_a), login(port_b)
            direct = f"/api/v1/listen/{upload['track_uuid']}/?upload={upload['uuid']}&download=false"
            results: dict[str, list[tuple[float, float, int]]] = {
                "B, not cached yet (fetched from A)": [],
                "B, cached copy": [],
                "A, its own file": [],
            }
            for _ in range(rounds):
                sql(env_b, "UPDATE upload SET audio_file = NULL WHERE source LIKE 'http%%'")
                results["B, not cached yet (fetched from A)"].append(timed(port_b, path, cookie_b))
                time.sleep(0.5)  # the copy is recorded just after its last byte
                results["B, cached copy"].append(timed(port_b, path, cookie_b))
                results["A, its own file"].append(timed(port_a, direct, cookie_a))
            print(f"{upload['size'] / 1e6:.1f} MB mp3, {rounds} round(s), medians:")
            for name, values in results.items():
                assert all(size == upload["size"] for _, _, size in values), (name, values)
                first = statistics.median(v[0] for v in values) * 1000
                total = statistics.median(v[1] for v in values) * 1000
                print(f"  {name:35}: first byte {first:7.1f} ms, whole file {total:7.1f} ms")
        finally:
            stop(b)
    finally:
        stop(a)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
