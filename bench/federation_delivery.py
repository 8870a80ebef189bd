"""Outgoing delivery rate: signed POSTs of sent activities to N loopback inboxes spread over M hosts.

Starts embedded PostgreSQL and Redis and, in this process's reactor, the daemon's service tree (web, worker with
16 consumers, scheduler) and M loopback "hosts" (127.0.1.x, one port each) whose N inboxes answer 202. A local
actor sends A activities, each to the N remote actors (`outbox.send`: one delivery row and one durable task per
inbox); the clock runs until every delivery is recorded delivered. Each attempt signs anew (RSA-2048), so the
machine's signing rate, printed beside, bounds the delivery rate of one process.
Run: .venv/bin/python bench/federation_delivery.py [activities, default 50] [inboxes, default 64] [hosts, default 8]
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.internet import task
from twisted.web.resource import Resource
from twisted.web.server import Site

from funkwhale.activitypub import outbox, signatures
from funkwhale.config import Settings
from funkwhale.db import schema
from funkwhale.embedded import EmbeddedServers
from funkwhale.service import make_service
from funkwhale.threads import run_cpu
from funkwhale.users import store as users_store
from funkwhale.users.actors import build_local_actor, key_pair


class Sink(Resource):
    isLeaf = True
    received = 0

    def render_POST(self, request: Any) -> bytes:
        Sink.received += 1
        request.setResponseCode(202)
        return b"{}"


def signing_rate(seconds: float = 2.0) -> float:
    private_key, _ = key_pair(2048)
    signatures.sign_request("POST", "http://h/inbox", key_id="k", private_key_pem=private_key, now=0, body=b"{}")
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        signatures.sign_request("POST", "http://h/inbox", key_id="k", private_key_pem=private_key, now=0, body=b"{}")
        n += 1
    return n / (time.perf_counter() - t0)


def _insert_remote_txn(txn: Any, fid: str, domain: str, inbox: str, name: str) -> None:
    users_store.ensure_domain_txn(txn, domain)
    txn.execute(
        "INSERT INTO actor (fid, type, preferred_username, domain, inbox_url, public_key, last_fetch_date) "
        "VALUES (%s, 'Person', %s, %s, %s, '', now())",
        (fid, name, domain, inbox),
    )


def _delivered_txn(txn: Any) -> int:
    txn.execute("SELECT count(*) AS n FROM delivery WHERE status = 'delivered'")
    return txn.fetchone()["n"]


async def run(reactor: Any, settings: Settings, activities: int, inboxes: int, hosts: int) -> None:
    top, ctx = make_service(settings, bind=lambda site: reactor.listenTCP(0, site, interface="127.0.0.1"))
    await top.startService()
    ports = []
    try:
        recipients = []
        for h in range(hosts):
            port = reactor.listenTCP(0, Site(Sink()), interface=f"127.0.1.{h + 1}")
            ports.append(port)
            base = f"http://127.0.1.{h + 1}:{port.getHost().port}"
            for i in range(h, inboxes, hosts):
                fid = f"{base}/actors/{i}"
                await ctx.db.run(
                    _insert_remote_txn, fid, base.split("//")[1], f"{base}/inbox/{i}", f"peer{i}", desc="bench"
                )
                recipients.append(fid)
        actor = await run_cpu(build_local_actor, settings, "sender")
        await ctx.db.run(users_store.ensure_domain_txn, actor.domain, desc="bench")
        await ctx.db.run(users_store.insert_actor_txn, actor, desc="bench")
        total = activities * len(recipients)
        t0 = time.perf_counter()
        for n in range(activities):
            await outbox.send(ctx, {"type": "Create", "actor": actor.fid, "object": f"{actor.fid}/{n}"}, to=recipients)
        queued = time.perf_counter() - t0
        while (done := await ctx.db.run(_delivered_txn, desc="bench")) < total:
            await task.deferLater(reactor, 0.2, lambda: None)
        elapsed = time.perf_counter() - t0
        print(
            f"{total} deliveries ({activities} activities x {len(recipients)} inboxes on {hosts} hosts): "
            f"{done / elapsed:.0f} signed deliveries/s ({elapsed:.1f} s; recording and queueing took {queued:.1f} s); "
            f"the inboxes received {Sink.received}"
        )
    finally:
        for port in ports:
            await port.stopListening()
        await top.stopService()


def main() -> None:
    activities, inboxes, hosts = (int(a) for a in (sys.argv[1:] + ["50", "64", "8"][len(sys.argv) - 1 :])[:3])
    root = Path(tempfile.mkdtemp(prefix="fw-bench-delivery-"))
    embedded = EmbeddedServers(str(root / "servers"), postgres=True, redis=True)
    try:
        embedded.start()
        schema.upgrade(embedded.database_url)
        settings = dataclasses.replace(
            Settings(),
            data_dir=str(root / "daemon"),
            media_root=str(root / "daemon" / "media"),
            listen="tcp:0:interface=127.0.0.1",
            hostname="bench.funkwhale.local",
            protocol="http",
            database_url=embedded.database_url,
            redis_url=embedded.redis_url,
            secret_key="bench",
            worker_concurrency=16,
            db_pool_size=20,
            external_requests_allow_private_networks=True,
        )
        Path(settings.data_dir).mkdir()
        task.react(lambda reactor: run_and_wrap(reactor, settings, activities, inboxes, hosts))
    except SystemExit as e:
        if e.code:
            raise
    finally:
        embedded.stop(only_started_here=False)
        shutil.rmtree(root, ignore_errors=True)
        print(f"RSA-2048 signing alone (one core): {signing_rate():.0f} signatures/s")


def run_and_wrap(reactor: Any, settings: Settings, activities: int, inboxes: int, hosts: int) -> Any:
    from twisted.internet.defer import Deferred

    return Deferred.fromCoroutine(run(reactor, settings, activities, inboxes, hosts))


if __name__ == "__main__":
    main()
