"""The multi-machine topology on this machine (tests/topology_harness.py: PostgreSQL, Redis and moto S3 on TCP, two
web processes behind nginx, two workers, a scheduler): requests/s of a list endpoint through nginx with one and
with two web processes, then what becomes of requests in flight when a web process is SIGKILLed under load.

Seeds a few hundred tracks (bench/browse.py's catalog, smaller), then GETs /api/v1/tracks/?page_size=50 at
concurrency 16 through nginx: nginx balancing one web process, then both. Last, the same load runs while the first
web process is SIGKILLed a third of the way through; counted: requests sent, failed, in flight at the kill.
Run: .venv/bin/python bench/topology.py [requests per case, default 1000]
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import browse  # noqa: E402

from tests.topology_harness import Topology  # noqa: E402

PATH = "/api/v1/tracks/?page_size=50"
CONCURRENCY = 16


def kill_under_load(topology: Topology, cookie: str, requests: int) -> dict[str, int]:
    """`requests` GETs by CONCURRENCY clients; the first web process is SIGKILLed once a third have been answered."""
    done: list[tuple[float, float, int]] = []  # (sent, answered, status; 0 for a network error)
    lock = threading.Lock()
    killed = threading.Event()
    kill_time: list[float] = []

    def client(count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", topology.nginx_port, timeout=60)
        for _ in range(count):
            sent = time.monotonic()
            try:
                status, _ = browse.get(conn, PATH, cookie)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", topology.nginx_port, timeout=60)
            with lock:
                done.append((sent, time.monotonic(), status))
                if len(done) >= requests // 3 and not killed.is_set():
                    killed.set()
                    kill_time.append(time.monotonic())
                    topology.webs[0][0].kill()
        conn.close()

    threads = [
        threading.Thread(target=client, args=(requests // CONCURRENCY + (i < requests % CONCURRENCY),))
        for i in range(CONCURRENCY)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kill = kill_time[0]
    in_flight = [r for r in done if r[0] < kill < r[1]]
    return {
        "sent": len(done),
        "failed": sum(1 for r in done if r[2] != 200),
        "in flight at the kill": len(in_flight),
        "in flight that failed": sum(1 for r in in_flight if r[2] != 200),
        "sent after the kill": sum(1 for r in done if r[0] > kill),
        "sent after that failed": sum(1 for r in done if r[0] > kill and r[2] != 200),
    }


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    browse.ARTISTS, browse.ALBUMS, browse.TRACKS = 20, 40, 400  # "a few hundred tracks"
    t0 = time.monotonic()
    topology = Topology(webs=2, workers=2)
    try:
        print(f"topology up in {time.monotonic() - t0:.1f} s (PostgreSQL, Redis, S3, 2 web, 2 workers, scheduler)")
        cookie = f"sessionid={browse.seed(topology.database_url)}"
        print(f"seeded {browse.TRACKS} tracks; GET {PATH} through nginx, c={CONCURRENCY}, {requests} requests")
        for count in (1, 2):
            topology.balance(count)
            browse.run_case(topology.nginx_port, cookie, PATH, 100, CONCURRENCY)  # warm up
            rps, p50, p99 = browse.run_case(topology.nginx_port, cookie, PATH, requests, CONCURRENCY)
            print(f"{count} web process(es): {rps:6.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
        figures = kill_under_load(topology, cookie, requests)
        counts = ", ".join(f"{name} {n}" for name, n in figures.items())
        print(f"SIGKILL of one web process under that load: {counts}")
    finally:
        topology.stop()


if __name__ == "__main__":
    main()
