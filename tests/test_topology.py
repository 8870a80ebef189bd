"""Beyond one machine: PostgreSQL, Redis and an S3 server on TCP, two web processes behind a real nginx that
balances them, two workers and a scheduler, each process with its own empty data directory (tests/topology_harness.py).
Everything goes through nginx as a listener would: sign up, upload an album, see the workers import it, browse,
stream, transcode, covers. Then a web process is SIGKILLed under load (only requests in flight may fail: nginx
retries idempotent ones on the other) and a worker mid-import (its task comes back to the other worker).

Skipped where no nginx binary exists; CI installs it, so it always runs there."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis
import requests

from funkwhale.tasks.queue import CONSUMERS, proc_key

from .audio import make_audio, make_cover
from .test_deploy_nginx import NGINX
from .topology_harness import Topology, wait_until

pytestmark = pytest.mark.skipif(NGINX is None, reason="no nginx binary (CI installs Debian's)")

PASSWORD = "correct horse battery staple"


class Listener(requests.Session):
    """A browser's session through nginx: cookies, and the CSRF header on unsafe methods."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method: str, url: str, *args: Any, **kw: Any) -> requests.Response:  # type: ignore[override]
        headers = dict(kw.pop("headers", None) or {})
        if method not in ("GET", "HEAD") and "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        kw.setdefault("timeout", 30)
        return super().request(method, url if url.startswith("http") else self.base + url, *args, headers=headers, **kw)

    def sign_up(self, username: str) -> None:
        self.get("/api/v1/instance/settings/")
        form = {"username": username, "email": f"{username}@example.org", "password1": PASSWORD, "password2": PASSWORD}
        assert self.post("/api/v1/auth/registration/", json=form).status_code in (200, 201, 204)
        assert self.post("/api/v1/users/login", data={"username": username, "password": PASSWORD}).ok

    def upload(self, library: str, path: Path) -> str:
        with open(path, "rb") as fh:
            resp = self.post(
                "/api/v1/uploads/",
                data={"library": library, "import_reference": "topology"},
                files={"audio_file": (path.name, fh, "application/octet-stream")},
            )
        assert resp.status_code == 201, resp.text
        return resp.json()["uuid"]

    def settled(self, upload: str) -> dict[str, Any]:
        """The upload once its import has ended (WAIT bounds it)."""
        found: dict[str, Any] = {}

        def ended() -> bool:
            resp = self.get(f"/api/v1/uploads/{upload}/")
            assert resp.status_code == 200, resp.text
            found.update(resp.json())
            return found["import_status"] != "pending"

        wait_until(ended, f"upload {upload} to be imported")
        return found


@pytest.fixture(scope="module")
def topology(s3_server) -> Iterator[Topology]:
    running = Topology(s3=s3_server)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def listener(topology) -> tuple[Listener, str]:
    """A listener signed up through nginx, and their library's uuid."""
    me = Listener(topology.base)
    me.sign_up("alice")
    made = me.post("/api/v1/libraries/", json={"name": "Everywhere", "privacy_level": "me"})
    assert made.status_code == 201, made.text
    return me, made.json()["uuid"]


def test_upload_import_browse_and_play_through_nginx(topology, listener, tmp_path):
    me, library = listener
    cover = make_cover("teal")
    songs = [
        make_audio(tmp_path, f"{n}", fmt, title=title, artist="Múm", album="Finally We Are No One", track=f"{n}/3",
                   date="2002", cover=cover)
        for n, (fmt, title) in enumerate([("flac", "Sleep"), ("mp3", "Green Grass"), ("ogg", "Behind Two Hills")], 1)
    ]  # fmt: skip
    uploads = [me.upload(library, path) for path in songs]
    assert [me.settled(u)["import_status"] for u in uploads] == ["finished"] * 3, topology.logs()

    albums = me.get("/api/v1/albums/").json()
    assert albums["count"] == 1
    album = albums["results"][0]
    assert album["title"] == "Finally We Are No One" and album["artist"]["name"] == "Múm"
    tracks = me.get("/api/v1/tracks/", params={"album": album["id"], "ordering": "position"}).json()["results"]
    assert [t["title"] for t in tracks] == ["Sleep", "Green Grass", "Behind Two Hills"]

    flac = tracks[0]
    ranged = me.get(flac["listen_url"], headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.content == b"fLaC", ranged.headers
    whole = me.get(flac["listen_url"])
    assert whole.status_code == 200 and whole.content == songs[0].read_bytes()
    mp3 = me.get(flac["listen_url"], params={"to": "mp3", "max_bitrate": "64"})
    assert mp3.status_code == 200 and mp3.headers["Content-Type"] == "audio/mpeg" and len(mp3.content) > 1000

    for size in ("original", "medium_square_crop"):
        picture = me.get(album["cover"]["urls"][size])
        assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/jpeg", (size, picture)
    assert requests.get(topology.base + flac["listen_url"], timeout=30).status_code in (401, 403)

    # Nothing was written where only one process could read it: the media are in the bucket.
    data_dirs = [p for p in topology.root.iterdir() if p.is_dir() and p.name not in ("servers", "nginx")]
    assert len(data_dirs) == 6  # migrate, 2 web, 2 workers, scheduler
    written = {str(f.relative_to(topology.root)) for d in data_dirs for f in d.rglob("*") if f.is_file()}
    assert {name.split("/", 1)[1] for name in written} <= {"public_address"}, written


def _in_flight(queue: redis.Redis, pid: int) -> tuple[str, str] | None:
    """(consumer, raw message) of a message that a consumer of process `pid` holds, if any."""
    for consumer, name in queue.hgetall(CONSUMERS).items():
        if f":{pid}:".encode() in consumer:
            held = queue.lrange(proc_key(name.decode(), consumer.decode()), 0, -1)
            if held:
                return consumer.decode(), held[0].decode()
    return None


def test_a_worker_killed_mid_import_loses_nothing(topology, listener, tmp_path):
    """The dead worker's message goes back to the queue once its heartbeat expires (the scheduler's reaper, not a
    parent of the dead process: here, as on another machine, nothing else knew it) and the other worker imports it."""
    me, library = listener
    doomed = topology.workers[0]
    queue = redis.Redis(host="127.0.0.1", port=topology.redis_port)
    songs = [
        make_audio(tmp_path, f"b{n}", "mp3", title=f"Batch {n}", artist="Múm", album="Batch", track=str(n),
                   cover=make_cover("olive"))
        for n in range(1, 9)
    ]  # fmt: skip
    conn = psycopg2.connect(topology.database_url)
    conn.autocommit = True

    def task(raw: str) -> tuple[str, int] | None:
        with conn.cursor() as cur:
            cur.execute("SELECT status, attempts FROM task WHERE id = %s", (json.loads(raw)["task_id"],))
            return cur.fetchone()

    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(lambda: [me.upload(library, path) for path in songs])
        held = None
        while held is None and not (sending.done() and not _in_flight(queue, doomed.pid)):
            held = _in_flight(queue, doomed.pid)
            if held is not None:  # freeze it: is the import running (started, not finished)? Else let it go on.
                os.kill(doomed.pid, signal.SIGSTOP)
                still = held[1].encode() in queue.lrange(proc_key("default", held[0]), 0, -1)
                if not (still and task(held[1]) == ("running", 1)):
                    os.kill(doomed.pid, signal.SIGCONT)
                    held = None
        assert held is not None, "the worker never ran one of the batch's imports"
        doomed.kill()
        uploads = sending.result()

    assert [me.settled(u)["import_status"] for u in uploads] == ["finished"] * len(songs), topology.logs()
    assert task(held[1]) == ("done", 2)  # started by the dead worker, run again by the other
    conn.close()
    assert topology.scheduler is not None
    assert f"consumer {held[0]} died: 1 message(s) back on queue default" in topology.scheduler.output()
    tracks = me.get("/api/v1/tracks/", params={"q": "Batch", "page_size": 50}).json()
    assert sorted(t["title"] for t in tracks["results"]) == sorted(f"Batch {n}" for n in range(1, 9))


def test_a_killed_web_process_loses_only_requests_in_flight(topology, listener):
    """A light load of GETs through nginx; one web process is SIGKILLed. A request may fail only if it was in
    flight at the kill (nginx passes idempotent ones it could not finish to the other process); all later ones
    succeed on the survivor."""
    me, _library = listener
    doomed, _port = topology.webs[0]
    stop = threading.Event()
    killed_at: list[float] = []
    results: list[tuple[float, float, int]] = []  # (sent, answered, status; 0 for a network error)
    lock = threading.Lock()

    def load() -> None:
        session = Listener(topology.base)
        session.cookies.update(me.cookies)
        while not stop.is_set():
            sent = time.monotonic()
            try:
                status = session.get("/api/v1/tracks/", params={"page_size": 5}).status_code
            except requests.RequestException:
                status = 0
            with lock:
                results.append((sent, time.monotonic(), status))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(results) >= 20, "the load to run")
        killed_at.append(time.monotonic())
        doomed.kill()
        wait_until(lambda: sum(1 for r in results if r[0] > killed_at[0]) >= 40, "the load to go on")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    kill = killed_at[0]
    failed = [r for r in results if r[2] != 200]
    assert all(sent < kill < answered for sent, answered, _ in failed), failed  # only ones in flight at the kill
    assert len(failed) <= len(threads)
    assert all(status == 200 for sent, _, status in results if sent > kill)
