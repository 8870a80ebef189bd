"""Inbox POST latency: verify the HTTP signature, store the activity and enqueue its task (what happens before the
202), at concurrency 16.

Starts embedded PostgreSQL and Redis and the daemon (web role: nothing consumes the tasks), serves a remote
actor's document (RSA-2048 key) from a thread on loopback, pre-signs N Follow activities of that actor (distinct
ids) and POSTs them to /federation/shared/inbox from 16 threads: requests/s, p50, p99, beside the RSA-2048
verification rate of this machine (the CPU floor of each request).
Run: .venv/bin/python bench/federation_inbox.py [activities, default 2000]
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from daemon import free_port, launch

from funkwhale.activitypub import signatures
from funkwhale.db import schema
from funkwhale.embedded import EmbeddedServers
from funkwhale.users.actors import key_pair

CONCURRENCY = 16


def serve_actor(public_key: str) -> tuple[ThreadingHTTPServer, str]:
    """A remote actor's document on loopback; (the server, the actor's id)."""
    port = free_port()
    fid = f"http://127.0.0.1:{port}/actors/sender"
    doc = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": fid,
        "type": "Person",
        "preferredUsername": "sender",
        "inbox": f"{fid}/inbox",
        "publicKey": {"id": f"{fid}#main-key", "owner": fid, "publicKeyPem": public_key},
    }
    body = json.dumps(doc).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/activity+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, fid


def presign(url: str, fid: str, private_key: str, count: int) -> list[tuple[bytes, dict[str, str]]]:
    requests = []
    for _ in range(count):
        activity = {"id": f"{fid}#follow/{uuid.uuid4()}", "type": "Follow", "actor": fid, "object": f"{url}/x"}
        body = json.dumps(activity).encode()
        headers = signatures.sign_request(
            "POST", url, key_id=f"{fid}#main-key", private_key_pem=private_key, now=time.time(), body=body,
            content_type="application/activity+json",
        )  # fmt: skip
        requests.append((body, headers))
    return requests


def verify_rate(private_key: str, public_key: str, seconds: float = 2.0) -> float:
    url = "http://127.0.0.1/federation/shared/inbox"
    headers = signatures.sign_request("POST", url, key_id="k", private_key_pem=private_key, now=time.time(), body=b"{}")
    request = signatures.IncomingRequest(
        "POST", "/federation/shared/inbox", {k.lower(): v for k, v in headers.items()}, b"{}"
    )
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        signatures.parse(request, time.time()).verify(public_key)
        n += 1
    return n / (time.perf_counter() - t0)


def post_all(port: int, requests: list[tuple[bytes, dict[str, str]]]) -> list[float]:
    """POST every request from CONCURRENCY threads (a connection each); the latencies in ms."""
    chunks = [requests[i::CONCURRENCY] for i in range(CONCURRENCY)]

    def worker(chunk: list[tuple[bytes, dict[str, str]]]) -> list[float]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies = []
        for body, headers in chunk:
            t0 = time.perf_counter()
            conn.request("POST", "/federation/shared/inbox", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            latencies.append((time.perf_counter() - t0) * 1000)
            if resp.status != 202:
                raise SystemExit(f"the inbox answered {resp.status}")
        conn.close()
        return latencies

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        return [ms for part in pool.map(worker, chunks) for ms in part]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    root = Path(tempfile.mkdtemp(prefix="fw-bench-inbox-"))
    embedded = EmbeddedServers(str(root / "servers"), postgres=True, redis=True)
    proc = None
    actor_server = None
    try:
        embedded.start()
        schema.upgrade(embedded.database_url)
        private_key, public_key = key_pair(2048)
        actor_server, fid = serve_actor(public_key)
        port = free_port()
        (root / "daemon").mkdir()
        env = {
            **os.environ,
            "FUNKWHALE_DATABASE_URL": embedded.database_url,
            "FUNKWHALE_REDIS_URL": embedded.redis_url,
            "FUNKWHALE_HOSTNAME": f"127.0.0.1:{port}",
            "FUNKWHALE_ROLE": "web",
            "FUNKWHALE_EXTERNAL_REQUESTS_ALLOW_PRIVATE_NETWORKS": "true",
        }
        proc = launch(root / "daemon", port, env, "--data-dir", str(root / "daemon"))[0]
        url = f"http://127.0.0.1:{port}/federation/shared/inbox"
        post_all(port, presign(url, fid, private_key, CONCURRENCY))  # warm up: the actor is fetched once
        requests = presign(url, fid, private_key, count)
        t0 = time.perf_counter()
        latencies = sorted(post_all(port, requests))
        elapsed = time.perf_counter() - t0
        p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
        print(
            f"inbox POST, c={CONCURRENCY}: {count / elapsed:.0f} activities/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            f" ({count} signed Follows verified, stored and enqueued)"
        )
        print(f"RSA-2048 signature verification alone (one core): {verify_rate(private_key, public_key):.0f}/s")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        if actor_server is not None:
            actor_server.shutdown()
        embedded.stop(only_started_here=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
