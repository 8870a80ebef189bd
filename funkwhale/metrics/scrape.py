"""What /metrics answers: the web process's registry, then a snapshot read at scrape time of what the whole
instance shares (queues and workers in Redis, task and cache counters in Redis, PostgreSQL's connections), and of
this process's database pool and transcodes. A source that does not answer is left out and reported down
(`funkwhale_metrics_source_up`), so the rest is still served."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from twisted.logger import Logger

from funkwhale.context import Context
from funkwhale.metrics import counters, store
from funkwhale.metrics.http import RequestMetrics
from funkwhale.tasks import registry
from funkwhale.tasks.queue import CONSUMERS, dead_key, delayed_key, heartbeat_key, proc_key, ready_key
from funkwhale.threads import run_io

log = Logger()

QUEUE_STATES = ("ready", "delayed", "in_flight", "dead")

# KEYS[i] is read with the command ARGV[i] (LLEN, ZCARD, EXISTS): many sizes in one round trip.
_SIZES = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call(ARGV[i], key) end
return out
"""


@dataclass
class Snapshot:
    """Figures read at scrape time; an empty part was not read (its source is down)."""

    up: dict[str, bool] = field(default_factory=dict)
    queues: dict[str, dict[str, int]] = field(default_factory=dict)  # queue -> state -> messages
    consumers: list[str] = field(default_factory=list)  # live consumer ids
    tasks: dict[str, dict[str, str]] = field(default_factory=dict)
    cache: dict[str, dict[str, str]] = field(default_factory=dict)
    db_connections: dict[str, int] = field(default_factory=dict)
    db_pool: tuple[int, int, int] = (0, 0, 0)  # this process: size, in use, waiting
    transcodes: tuple[int, int] = (0, 0)  # this process: running, started


async def _read_redis(ctx: Context, snap: Snapshot) -> None:
    queues = registry.queues()
    known = await ctx.redis.cmd.hgetall(CONSUMERS) or {}
    consumers = sorted((cid, queue) for cid, queue in known.items() if queue in queues)
    reads = [(ready_key(q), "LLEN") for q in queues] + [(delayed_key(q), "ZCARD") for q in queues]
    reads += [(dead_key(q), "LLEN") for q in queues]
    reads += [(proc_key(queue, cid), "LLEN") for cid, queue in consumers]
    reads += [(heartbeat_key(cid), "EXISTS") for cid, _ in consumers]
    sizes = await ctx.redis.cmd.eval(_SIZES, [key for key, _ in reads], [command for _, command in reads])
    n = len(queues)
    for i, queue in enumerate(queues):
        snap.queues[queue] = {"ready": sizes[i], "delayed": sizes[n + i], "dead": sizes[2 * n + i], "in_flight": 0}
    held, alive = sizes[3 * n : 3 * n + len(consumers)], sizes[3 * n + len(consumers) :]
    for (cid, queue), count, beating in zip(consumers, held, alive, strict=True):
        snap.queues[queue]["in_flight"] += count
        if beating:
            snap.consumers.append(cid)
    snap.tasks = counters.split_fields(await ctx.redis.cmd.hgetall(counters.TASKS) or {})
    await ctx.redis.mirror.flush_hits(ctx.redis.cmd)  # this process's; the others' every FLUSH_EVERY seconds
    snap.cache = counters.split_fields(await ctx.redis.cmd.hgetall(counters.CACHE) or {})


async def _read_postgresql(ctx: Context, snap: Snapshot) -> None:
    snap.db_connections = await ctx.db.run(store.connections_txn, desc="metrics.connections")


async def gather(ctx: Context) -> Snapshot:
    """Read every source once."""
    snap = Snapshot(db_pool=ctx.db.usage(), transcodes=(ctx.transcodes.running.total(), ctx.transcodes.started))
    for source, read in (("redis", _read_redis), ("postgresql", _read_postgresql)):
        try:
            await read(ctx, snap)
            snap.up[source] = True
        except Exception as e:
            log.warn("metrics: cannot read {source}: {error}", source=source, error=f"{type(e).__name__}: {e}")
            snap.up[source] = False
    return snap


def _process_of(consumer_id: str) -> str:
    """A consumer id is `host:pid:run:queue:n` (worker.Worker): its process is the first three parts."""
    return ":".join(consumer_id.split(":")[:3])


class SnapshotCollector:
    """The snapshot as Prometheus metric families."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        snap = self.snap
        up = GaugeMetricFamily(
            "funkwhale_metrics_source_up", "Whether a source answered this scrape", labels=["source"]
        )
        for source, ok in snap.up.items():
            up.add_metric([source], 1 if ok else 0)
        yield up
        yield from self._queues()
        yield from self._tasks()
        cache = CounterMetricFamily(
            "funkwhale_cache_reads", "Cache reads of the instance, by cache and result", labels=["cache", "result"]
        )
        for name, values in sorted(snap.cache.items()):
            for result in ("hit", "miss"):
                cache.add_metric([name, result], int(values.get(result, 0)))
        yield cache
        yield from self._database()
        running, started = snap.transcodes
        yield GaugeMetricFamily("funkwhale_transcodes_running", "Live ffmpeg transcodes in this process", running)
        yield CounterMetricFamily("funkwhale_transcodes_started", "Live transcodes started by this process", started)

    def _queues(self) -> Iterator[Metric]:
        snap = self.snap
        messages = GaugeMetricFamily(
            "funkwhale_queue_messages", "Task messages by queue and state", labels=["queue", "state"]
        )
        for queue, states in sorted(snap.queues.items()):
            for state in QUEUE_STATES:
                messages.add_metric([queue, state], states[state])
        yield messages
        if snap.up.get("redis"):
            yield GaugeMetricFamily(
                "funkwhale_worker_processes",
                "Processes of the instance running task consumers (live heartbeats)",
                len({_process_of(c) for c in snap.consumers}),
            )
            yield GaugeMetricFamily("funkwhale_worker_consumers", "Live task consumers", len(snap.consumers))

    def _tasks(self) -> Iterator[Metric]:
        runs = CounterMetricFamily(
            "funkwhale_tasks", "Task runs by task and outcome (success, retry, dead letter)", labels=["task", "outcome"]
        )
        durations = HistogramMetricFamily(
            "funkwhale_task_duration_seconds", "Task run durations by task, every outcome", labels=["task"]
        )
        bounds = [*(str(b) for b in counters.TASK_BUCKETS), "+Inf"]
        for task, values in sorted(self.snap.tasks.items()):
            for outcome in counters.OUTCOMES:
                runs.add_metric([task, outcome], int(values.get(outcome, 0)))
            total, buckets = 0, []
            for i, bound in enumerate(bounds):
                total += int(values.get(f"b{i}", 0))
                buckets.append((bound, total))
            durations.add_metric([task], buckets, float(values.get("sum", 0)))
        yield runs
        yield durations

    def _database(self) -> Iterator[Metric]:
        instance = GaugeMetricFamily(
            "funkwhale_db_connections",
            "Connections of every funkwhale process to PostgreSQL, by state (pg_stat_activity)",
            labels=["state"],
        )
        for state, n in sorted(self.snap.db_connections.items()):
            instance.add_metric([state], n)
        yield instance
        size, in_use, waiting = self.snap.db_pool
        yield GaugeMetricFamily("funkwhale_db_pool_size", "Connections this process's pool may open", size)
        yield GaugeMetricFamily("funkwhale_db_pool_in_use", "Connections of this process's pool in a query", in_use)
        yield GaugeMetricFamily("funkwhale_db_pool_waiting", "Transactions of this process waiting for one", waiting)


async def render(ctx: Context, requests: RequestMetrics) -> bytes:
    """The whole answer of /metrics."""
    snap = await gather(ctx)
    # Shared between web processes, the request counts are read from files: not on the reactor.
    counted = await run_io(generate_latest, requests.scraped) if requests.shared else generate_latest(requests.scraped)
    return counted + generate_latest(SnapshotCollector(snap))
