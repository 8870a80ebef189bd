"""What a second web process buys: `GET /api/v1/tracks/?page_size=50` on bench/browse.py's library of 20,000 tracks.

Starts the daemon (role web) with FUNKWHALE_WEB_PROCESSES=1, then =2, on the same seeded servers, and prints
requests/s at concurrency 16 (and 1), beside the limit: the same catalog statement alone, run by 16 threads
through psycopg2 (each its own connection), as fast as PostgreSQL and the driver go on this machine; and the ratio.
Run: .venv/bin/python bench/web_processes.py [requests per case, default 2000]
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from browse import catalog_statement, free_port, run_case, seeded_instance, start_daemon

from funkwhale.db.pool import connect
from funkwhale.music.visibility import Viewer

PATH = "/api/v1/tracks/?page_size=50"
CONCURRENCY = 16


def direct_rps(dsn: str, run: Callable[[Any, Viewer], Any], requests: int, concurrency: int) -> float:
    """Statements per second of `run(cursor, viewer)` for the seeded user, by `concurrency` threads through
    psycopg2, each with its own connection (no HTTP, no JSON)."""
    conns = [connect(dsn) for _ in range(concurrency)]
    with conns[0].cursor() as cur:
        cur.execute("SELECT actor_id, id FROM users WHERE username = 'bench'")
        row = cur.fetchone()
    viewer = Viewer(user_id=row["id"], actor_id=row["actor_id"])

    def worker(conn: Any) -> None:
        for _ in range(requests // concurrency):
            with conn.cursor() as cur:
                run(cur, viewer)
            conn.rollback()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, conns))
    elapsed = time.perf_counter() - t0
    for conn in conns:
        conn.close()
    return requests // concurrency * concurrency / elapsed


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with seeded_instance("fw-bench-webprocs-", web_processes=1) as instance:
        run_case(instance.port, instance.cookie, PATH, 50, 4)  # warm up
        limit = direct_rps(instance.dsn, catalog_statement(PATH), requests, CONCURRENCY)
        figures = {1: (instance.port, None)}
        root = Path(tempfile.mkdtemp(prefix="fw-bench-webprocs-2-"))
        port = free_port()
        second = start_daemon(root, port, instance.dsn, instance.redis_url, web_processes=2)
        try:
            time.sleep(3)  # the web child starts after the daemon answers
            figures[2] = (port, second)
            print(f"{PATH}: the statement alone through psycopg2, c={CONCURRENCY}: {limit:.0f} statements/s")
            print(f"{'web processes':<14} {'c=1 req/s':>10} {'c=16 req/s':>11} {'p50':>6} {'p99':>6} {'× limit':>8}")
            for n, (at, _) in figures.items():
                run_case(at, instance.cookie, PATH, 50, 4)  # warm up (both processes)
                single, _, _ = run_case(at, instance.cookie, PATH, requests // 4, 1)
                rps, p50, p99 = run_case(at, instance.cookie, PATH, requests, CONCURRENCY)
                print(f"{n:<14} {single:10.0f} {rps:11.0f} {p50:6.1f} {p99:6.1f} {rps / limit:8.2f}")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(60)
            shutil.rmtree(root, ignore_errors=True)
        print("latencies in ms at c=16; × limit = requests/s over the statement's own rate through psycopg2")


if __name__ == "__main__":
    main()
