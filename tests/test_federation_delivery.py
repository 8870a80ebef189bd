"""Delivery to remote inboxes: signed POSTs, retried on Mastodon's schedule for a dead host, a 500 and a 429
(whose Retry-After is honoured), dropped on other 4xx; a busy host or one whose circuit is open makes its
deliveries wait without counting an attempt, and does not hold up a healthy peer."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

from funkwhale.activitypub import delivery, outbox, signatures
from funkwhale.activitypub.http import incoming_request
from funkwhale.users.actors import actor_fid

from .conftest import start_server
from .federation_helpers import eventually, run_sql
from .federation_pair import free_port


class Inbox(Resource):
    """A peer's inbox answering `status` (with `headers`) and keeping what it was sent."""

    isLeaf = True

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        self.status = status
        self.headers = headers or {}
        self.received: list[tuple[dict, object]] = []

    def render_POST(self, request) -> bytes:
        body = request.content.read()
        self.received.append((json.loads(body), incoming_request(request, body)))
        request.setResponseCode(self.status)
        for name, value in self.headers.items():
            request.setHeader(name, value)
        return b"{}"


@pytest_twisted.async_yield_fixture
async def sender(settings, monkeypatch):
    monkeypatch.setattr(delivery, "gate", delivery.HostGate())
    running = await start_server(dataclasses.replace(settings, external_requests_allow_private_networks=True))
    client = running.client()
    await client.signup("alice", "S3cret-pass!")
    yield running
    await running.service.stopService()


@pytest.fixture
def peers_inboxes():
    inboxes = {
        "healthy": Inbox(202),
        "broken": Inbox(500),
        "busy": Inbox(429, {"Retry-After": "600"}),
        "gone": Inbox(410),
    }
    ports = {name: reactor.listenTCP(0, Site(res), interface="127.0.0.1") for name, res in inboxes.items()}
    urls = {name: f"http://127.0.0.1:{port.getHost().port}/inbox" for name, port in ports.items()}
    urls["dead"] = f"http://127.0.0.1:{free_port('127.0.0.1')}/inbox"
    yield inboxes, urls
    for port in ports.values():
        port.stopListening()


async def _remote_actor(server, name: str, inbox: str) -> str:
    fid = inbox.replace("/inbox", f"/actors/{name}")
    domain = fid.split("/")[2]
    await run_sql(server, "INSERT INTO domain (name) VALUES (%s) ON CONFLICT DO NOTHING", (domain,))
    await run_sql(
        server,
        "INSERT INTO actor (fid, type, preferred_username, domain, inbox_url, public_key, last_fetch_date) "
        "VALUES (%s, 'Person', %s, %s, %s, '', now())",
        (fid, name, domain, inbox),
    )
    return fid


async def _deliveries(server) -> dict[str, dict]:
    rows = await run_sql(
        server,
        "SELECT inbox_url, status, attempts, last_error, extract(epoch FROM next_attempt_date - now()) AS wait "
        "FROM delivery",
    )
    return {r["inbox_url"]: r for r in rows}


@pytest_twisted.ensureDeferred
async def test_deliveries_are_signed_and_retried_on_schedule(sender, peers_inboxes):
    inboxes, urls = peers_inboxes
    recipients = [await _remote_actor(sender, name, url) for name, url in urls.items()]
    alice = actor_fid(sender.ctx.settings, "alice")
    await outbox.send(sender.ctx, {"type": "Follow", "actor": alice, "object": "x"}, to=recipients)

    async def all_attempted():
        rows = await _deliveries(sender)
        return len(rows) == len(urls) and all(r["attempts"] for r in rows.values())

    await eventually(all_attempted, what="one attempt of each delivery")
    rows = await _deliveries(sender)
    assert rows[urls["healthy"]]["status"] == "delivered"
    payload, request = inboxes["healthy"].received[0]
    assert payload["type"] == "Follow" and payload["id"].startswith(f"{alice}#follow/")
    public = (await run_sql(sender, "SELECT public_key FROM actor WHERE fid = %s", (alice,)))[0]["public_key"]
    signatures.parse(request, time.time()).verify(public)  # signed with alice's key
    assert rows[urls["gone"]]["status"] == "failed", "a 410 is not retried"
    for name in ("dead", "broken"):
        row = rows[urls[name]]
        assert row["status"] == "pending" and row["attempts"] == 1
        assert 1 + 15 - 1 <= row["wait"] <= 1 + 15 + 20 + 1, (name, row)  # n^4 + 15 s + jitter up to 10(n+1)
    assert rows[urls["busy"]]["status"] == "pending" and rows[urls["busy"]]["wait"] >= 595, "Retry-After honoured"
    delayed = await run_sql(
        sender, "SELECT count(*) AS n FROM task WHERE name = 'federation.deliver' AND status = 'pending'"
    )
    assert delayed[0]["n"] == 3, "each retry is a delayed durable task"

    broken_id = (await run_sql(sender, "SELECT id FROM delivery WHERE inbox_url = %s", (urls["broken"],)))[0]["id"]
    await delivery.deliver(sender.ctx, broken_id)  # the retry, when its time comes
    row = (await _deliveries(sender))[urls["broken"]]
    assert row["attempts"] == 2 and 2**4 + 15 - 1 <= row["wait"] <= 2**4 + 15 + 30 + 1
    assert len(inboxes["broken"].received) == 2


@pytest_twisted.ensureDeferred
async def test_a_busy_or_failing_host_waits_without_holding_up_others(sender, peers_inboxes):
    inboxes, urls = peers_inboxes
    broken = await _remote_actor(sender, "broken", urls["broken"])
    healthy = await _remote_actor(sender, "healthy", urls["healthy"])
    alice = actor_fid(sender.ctx.settings, "alice")
    broken_host = urls["broken"].split("/")[2]
    now = sender.ctx.clock.seconds()
    for _ in range(delivery.BREAKER_THRESHOLD):
        delivery.gate.failed(broken_host, now)
    assert delivery.gate.closed_in(broken_host, now) > 0, "the circuit opened"

    await outbox.send(sender.ctx, {"type": "Create", "actor": alice, "object": "y"}, to=[broken, healthy])
    await eventually(lambda: inboxes["healthy"].received, what="the healthy peer to get its activity")
    rows = await _deliveries(sender)
    assert rows[urls["healthy"]]["status"] == "delivered"
    row = rows[urls["broken"]]
    assert row["status"] == "pending" and row["attempts"] == 0 and row["wait"] > 30, "postponed, not attempted"
    assert inboxes["broken"].received == []

    healthy_host = urls["healthy"].split("/")[2]
    for _ in range(delivery.HOST_CONCURRENCY):
        assert delivery.gate.acquire(healthy_host)
    await outbox.send(sender.ctx, {"type": "Update", "actor": alice, "object": "z"}, to=[healthy])
    waiting = await run_sql(
        sender, "SELECT id FROM delivery WHERE status = 'pending' AND inbox_url = %s", (urls["healthy"],)
    )
    await eventually(
        lambda: run_sql(sender, "SELECT 1 FROM task WHERE name = 'federation.deliver' AND status = 'pending' "
                        "AND args = jsonb_build_array(%s::bigint) AND run_at > now()", (waiting[0]["id"],)),
        what="the delivery to a host at its cap to be postponed",
    )  # fmt: skip
    assert len(inboxes["healthy"].received) == 1 and (await _deliveries(sender))[urls["healthy"]]["attempts"] == 0
    for _ in range(delivery.HOST_CONCURRENCY):
        delivery.gate.release(healthy_host)
    await delivery.deliver(sender.ctx, waiting[0]["id"])
    assert len(inboxes["healthy"].received) == 2


def test_retry_schedule_reaches_about_two_days():
    class Low:
        def uniform(self, a, b):
            return a

    total = sum(delivery.retry_delay(n, Low()) for n in range(1, delivery.MAX_ATTEMPTS))
    assert 1.5 * 86400 < total < 2.5 * 86400
    assert delivery.retry_after("120", 0) == 120
    assert delivery.retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480 - 60) == 60
    assert delivery.retry_after("soon", 0) is None
    assert delivery.retry_after(str(10**9), 0) == delivery.MAX_RETRY_AFTER
