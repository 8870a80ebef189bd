"""Delivering a sent activity to one remote inbox: the `federation.deliver` task.

Each attempt is signed afresh with the sending actor's key. 2xx is delivered; a network error, 5xx, 401, 408 or
429 is retried on Mastodon's schedule (attempt n waits n^4 + 15 s plus jitter, at most MAX_ATTEMPTS, about two
days in all), later if `Retry-After` says so; any other status fails for good. The task schedules its next
attempt itself (a new delayed durable task in the same transaction as the attempt's outcome) and never raises
for a peer's failure, so the worker's own retries do not interfere.

One peer must not slow the others: a process sends at most HOST_CONCURRENCY requests at a time to a host
(beyond that a delivery waits a moment, without counting an attempt), and after BREAKER_THRESHOLD consecutive
failures a host's circuit opens for a cooling period during which its deliveries are postponed, not attempted.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from twisted.logger import Logger

from funkwhale.activitypub import actors, delivery_store
from funkwhale.activitypub.fetch import AP_ACCEPT, BlockedAddress, Fetcher, FetchError
from funkwhale.activitypub.outbox import DELIVER_TASK
from funkwhale.context import Context
from funkwhale.tasks import queue
from funkwhale.tasks.registry import task

log = Logger()

MAX_ATTEMPTS = 17  # the first and 16 retries, as Mastodon
MAX_RETRY_AFTER = 2 * 86400
RETRIED_STATUSES = frozenset({401, 408, 429})
HOST_CONCURRENCY = 4
BUSY_DELAY = 2.0
BREAKER_THRESHOLD = 5
BREAKER_COOLDOWN = 60.0
BREAKER_MAX_COOLDOWN = 3600.0


def retry_delay(attempts: int, rng: random.Random | Any = random) -> float:
    """Seconds before the next attempt once `attempts` have failed (Mastodon's schedule)."""
    return attempts**4 + 15 + rng.uniform(0, 10 * (attempts + 1))


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds or an HTTP date), capped at two days."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


@dataclass
class HostGate:
    """In-process, per host: requests in flight and the circuit breaker (consecutive failures, open until)."""

    limit: int = HOST_CONCURRENCY
    in_flight: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    open_until: dict[str, float] = field(default_factory=dict)

    def closed_in(self, host: str, now: float) -> float:
        """Seconds until the host's circuit closes again (0 when it is closed)."""
        return max(0.0, self.open_until.get(host, 0.0) - now)

    def acquire(self, host: str) -> bool:
        if self.in_flight.get(host, 0) >= self.limit:
            return False
        self.in_flight[host] = self.in_flight.get(host, 0) + 1
        return True

    def release(self, host: str) -> None:
        left = self.in_flight.get(host, 1) - 1
        if left:
            self.in_flight[host] = left
        else:
            self.in_flight.pop(host, None)

    def succeeded(self, host: str) -> None:
        self.failures.pop(host, None)
        self.open_until.pop(host, None)

    def failed(self, host: str, now: float) -> None:
        count = self.failures[host] = self.failures.get(host, 0) + 1
        if count >= BREAKER_THRESHOLD:
            cooldown = min(BREAKER_MAX_COOLDOWN, BREAKER_COOLDOWN * 2 ** (count - BREAKER_THRESHOLD))
            self.open_until[host] = now + cooldown


gate = HostGate()


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered, failed, pending (retry)
    error: str = ""
    wait: float | None = None  # what the peer asked for (Retry-After)


async def _attempt(ctx: Context, row: dict[str, Any]) -> Outcome:
    signer = await actors.signer(ctx, row["actor_fid"])
    if signer is None:
        return Outcome("failed", f"{row['actor_fid']} has no key")
    body = json.dumps(row["payload"], separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/activity+json", "Accept": AP_ACCEPT}
    try:
        response = await Fetcher.from_settings(ctx.settings).request(
            "POST", row["inbox_url"], headers=headers, body=body, signer=signer
        )
    except BlockedAddress as e:
        return Outcome("failed", str(e))
    except FetchError as e:
        return Outcome("pending", str(e))
    if 200 <= response.status < 300:
        return Outcome("delivered")
    error = f"{row['inbox_url']} answered {response.status}"
    if response.status >= 500 or response.status in RETRIED_STATUSES:
        return Outcome("pending", error, retry_after(response.header("retry-after"), ctx.clock.seconds()))
    return Outcome("failed", error)


async def _postpone(ctx: Context, delivery_id: int, seconds: float) -> None:
    def postpone_txn(txn: Any) -> queue.Message:
        delivery_store.postpone_txn(txn, delivery_id, seconds)
        return queue.enqueue_durable_txn(txn, DELIVER_TASK, delivery_id, delay=seconds)

    await queue.push(ctx, await ctx.db.run(postpone_txn, desc="federation.postpone_delivery"))


@task(DELIVER_TASK, max_retries=3, timeout=120)
async def deliver(ctx: Context, delivery_id: int) -> None:
    """One attempt of a pending delivery (see the module's docstring)."""
    row = await ctx.db.run(delivery_store.delivery_txn, delivery_id, desc="federation.delivery")
    if row is None or row["status"] != "pending":
        return
    host, now = row["host"], ctx.clock.seconds()
    cooling = gate.closed_in(host, now)
    if cooling:
        await _postpone(ctx, delivery_id, cooling + random.uniform(0, 5))
        return
    if not gate.acquire(host):
        await _postpone(ctx, delivery_id, BUSY_DELAY * random.uniform(0.5, 1.5))
        return
    try:
        outcome = await _attempt(ctx, row)
    finally:
        gate.release(host)
    attempts = row["attempts"] + 1
    retry_in = None
    if outcome.status == "pending":
        gate.failed(host, ctx.clock.seconds())
        if attempts >= MAX_ATTEMPTS:
            outcome = Outcome("failed", f"gave up after {attempts} attempts: {outcome.error}")
        else:
            retry_in = max(retry_delay(attempts), outcome.wait or 0)
    else:
        gate.succeeded(host)
    if outcome.status != "delivered":
        log.info(
            "delivery {id} to {inbox}: {status} ({error})",
            id=delivery_id, inbox=row["inbox_url"], status=outcome.status, error=outcome.error,
        )  # fmt: skip

    def record_txn(txn: Any) -> queue.Message | None:
        delivery_store.record_attempt_txn(txn, delivery_id, outcome.status, outcome.error, retry_in)
        return None if retry_in is None else queue.enqueue_durable_txn(txn, DELIVER_TASK, delivery_id, delay=retry_in)

    message = await ctx.db.run(record_txn, desc="federation.record_delivery")
    if message is not None:
        await queue.push(ctx, message)
