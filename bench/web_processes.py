"""What a second web process buys, on bench/browse.py's library of 20,000 tracks.

Starts the daemon (role web) with FUNKWHALE_WEB_PROCESSES=1, then =2, on the same seeded servers, and prints for
`GET /api/v1/tracks/?page_size=50` and for a page with no SQL (the instance settings, from the Redis cache)
requests/s at concurrency 1 and 16, beside the limit of the tracks page: the same catalog statement alone, run by
16 threads through psycopg2 (each its own connection), as fast as PostgreSQL and the driver go on this machine;
and the ratio. Where the CPU went at c=16 is shown too: milliseconds of CPU per request in PostgreSQL's backends
and in the web processes (psutil), which says whether another process can help on these cores.
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

import psutil
from browse import catalog_statement, free_port, run_case, seeded_instance, start_daemon

from funkwhale.db.pool import connect
from funkwhale.music.visibility import Viewer

TRACKS = "/api/v1/tracks/?page_size=50"
CASES = [("tracks p1", TRACKS), ("settings", "/api/v1/instance/settings/")]
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


def backends(dsn: str) -> list[psutil.Process]:
    """PostgreSQL's client backends (the daemons' pools among them)."""
    conn = connect(dsn)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'")
        pids = [row["pid"] for row in cur.fetchall()]
    conn.close()
    return [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with seeded_instance("fw-bench-webprocs-", web_processes=1) as instance:
        limit = direct_rps(instance.dsn, catalog_statement(TRACKS), requests, CONCURRENCY)
        print(f"{TRACKS}: the statement alone through psycopg2, c={CONCURRENCY}: {limit:.0f} statements/s")
        print(
            f"{'case':<10} {'web procs':>9} {'c=1 req/s':>10} {'c=16 req/s':>11} {'p50':>6} {'p99':>6} "
            f"{'× limit':>8} {'CPU ms/req: PostgreSQL':>23} {'web':>5}"
        )
        for n in (1, 2):
            root = Path(tempfile.mkdtemp(prefix=f"fw-bench-webprocs-{n}-"))
            port = free_port()
            daemon = start_daemon(root, port, instance.dsn, instance.redis_url, web_processes=n)
            try:
                time.sleep(3)  # the web child starts after the daemon answers
                web = [psutil.Process(daemon.pid), *psutil.Process(daemon.pid).children()]
                for name, path in CASES:
                    run_case(port, instance.cookie, path, 100, 4)  # warm up (every process)
                    single, _, _ = run_case(port, instance.cookie, path, requests // 4, 1)
                    pg = backends(instance.dsn)
                    before = cpu_seconds(pg), cpu_seconds(web)
                    rps, p50, p99 = run_case(port, instance.cookie, path, requests, CONCURRENCY)
                    pg_ms, web_ms = (
                        (cpu_seconds(g) - b) * 1000 / requests for g, b in zip((pg, web), before, strict=True)
                    )
                    ratio = f"{rps / limit:8.2f}" if path == TRACKS else f"{'-':>8}"
                    print(
                        f"{name:<10} {n:>9} {single:10.0f} {rps:11.0f} {p50:6.1f} {p99:6.1f} {ratio} "
                        f"{pg_ms:23.1f} {web_ms:5.1f}"
                    )
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(60)
                shutil.rmtree(root, ignore_errors=True)
        print("latencies in ms at c=16; × limit = requests/s over the statement's own rate through psycopg2")


if __name__ == "__main__":
    main()
