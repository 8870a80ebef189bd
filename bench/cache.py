"""What the Redis cache buys on the hottest reads, on bench/browse.py's library of 20,000 tracks.

For each endpoint, requests/s and p50/p99 at concurrency 1 and 16, twice: with every read a miss (the client
bumps the cache generation the read depends on before each request, which adds one Redis INCR to the measured
time) and with the cache warm. Endpoints: Subsonic getArtists and getIndexes (500 artists), NodeInfo, the public
instance settings (every page of the web app and every play read preferences).
Run: .venv/bin/python bench/cache.py [requests per case, default 300]
"""

from __future__ import annotations

import sys

import redis
from browse import run_case, seeded_instance
from subsonic import give_token, path_of

from funkwhale import cache

CASES = [
    ("getArtists", path_of({"method": "getArtists"}), cache.CATALOG),
    ("getIndexes", path_of({"method": "getIndexes"}), cache.CATALOG),
    ("nodeinfo 2.0", "/api/v1/instance/nodeinfo/2.0/", cache.CATALOG),
    ("instance settings", "/api/v1/instance/settings/", cache.PREFS),
]


def run(port: int, path: str, requests: int, concurrency: int, bump: redis.Redis | None, scope: str) -> str:
    before = None if bump is None else (lambda: bump.incr(f"fw:cache:gen:{scope}"))
    rps, p50, p99 = run_case(port, "", path, requests, concurrency, before)
    return f"{rps:8.0f} {p50:6.1f} {p99:6.1f}"


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with seeded_instance("fw-bench-cache-", give_token) as instance:
        bump = redis.Redis(unix_socket_path=instance.redis_url.removeprefix("unix://"))
        print(f"{'case':<18} {'mode':<6} | " + " | ".join(f"c={c:<2} req/s   p50    p99" for c in (1, 16)))
        for name, path, scope in CASES:
            run(instance.port, path, 10, 1, None, scope)  # warm up
            for mode, bumper in (("miss", bump), ("cached", None)):
                cells = [run(instance.port, path, requests, c, bumper, scope) for c in (1, 16)]
                print(f"{name:<18} {mode:<6} | " + " | ".join(cells))
        print("latencies in ms; miss = the generation bumped before each request (every read computed from SQL)")


if __name__ == "__main__":
    main()
