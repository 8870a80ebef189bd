"""/metrics over real HTTP: off by default, never without the token (or on its own listener), Prometheus' text
format, and counters that move with requests, tasks, cache reads and transcodes, labelled by route template."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import pytest_twisted
from prometheus_client.parser import text_string_to_metric_families

from funkwhale.config import ConfigError, load_settings
from funkwhale.context import Context
from funkwhale.tasks import queue as q
from funkwhale.tasks.registry import task as register

from .client import ApiClient
from .conftest import start_server
from .playback_helpers import ffmpeg_children, owner_with_library, session
from .test_transcode import fifo_song, stalled_request, wait_until

TOKEN = "metrics-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ran: list[str] = []


@register("test.metrics_ok")
async def succeeds(ctx: Context) -> None:
    ran.append("ok")


@register("test.metrics_retried", max_retries=1)
async def fails_once(ctx: Context) -> None:
    raise RuntimeError("retry me")


@register("test.metrics_dead", max_retries=0)
async def fails(ctx: Context) -> None:
    raise RuntimeError("bury me")


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: ApiClient, path: str = "/metrics") -> Samples:
    """Every sample of /metrics, parsed by prometheus_client's own parser: {(name, sorted labels): value}."""
    resp = await client.get(path, headers=BEARER)
    assert resp.code == 200, resp
    assert resp.header("Content-Type").startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(resp.body.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest_twisted.async_yield_fixture
async def metered(settings):
    """The whole tree with metrics on the web listener, behind the token."""
    running = await start_server(dataclasses.replace(settings, metrics=True, metrics_token=TOKEN))
    yield running
    await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_metrics_are_off_by_default(client):
    assert (await client.get("/metrics")).code == 404
    assert (await client.get("/metrics", headers=BEARER)).code == 404


@pytest_twisted.ensureDeferred
async def test_metrics_need_the_token(metered):
    client = metered.client()
    missing = await client.get("/metrics")
    assert missing.code == 401 and missing.header("WWW-Authenticate") == 'Bearer realm="metrics"'
    for wrong in ("Bearer " + TOKEN[:-1], "Bearer " + TOKEN + "x", "Basic " + TOKEN, TOKEN):
        resp = await client.get("/metrics", headers={"Authorization": wrong})
        assert resp.code in (401, 403) and b"funkwhale_" not in resp.body, (wrong, resp)
    assert (await client.get("/metrics", headers={"Authorization": "Bearer nope"})).code == 403
    assert "funkwhale_http_requests_total" in {name for name, _ in await scrape(client)}


@pytest_twisted.ensureDeferred
async def test_requests_are_counted_by_route_template(metered):
    client = metered.client()
    before = await scrape(client)
    assert (await client.get("/api/v1/instance/nodeinfo/2.0/")).code == 200
    assert (await client.get("/api/v1/tracks/987654321/")).code in (401, 404)
    status = str((await client.get("/api/v1/tracks/987654321/")).code)
    for path in ("/rest/ping.view", "/rest/ping", "/api/subsonic/rest/ping", "/rest/no-such-method-42"):
        assert (await client.get(path)).code == 200
    after = await scrape(client)
    subsonic = {r for (n, ls) in after if n == "funkwhale_http_requests_total" for k, r in ls if "rest/" in r}
    assert subsonic == {"/rest/ping", "/api/subsonic/rest/ping", "/rest/<method>"}
    nodeinfo = {"route": "/api/v1/instance/nodeinfo/2.0/", "method": "GET", "status": "200"}
    assert value(after, "funkwhale_http_requests_total", **nodeinfo) == 1 + value(
        before, "funkwhale_http_requests_total", **nodeinfo
    )
    track_routes = {
        dict(labels)["route"]
        for (name, labels) in after
        if name == "funkwhale_http_requests_total" and dict(labels)["status"] == status
        and dict(labels)["route"].startswith("/api/v1/tracks/")
    }  # fmt: skip
    assert len(track_routes) == 1 and "<" in track_routes.pop()
    route = next(r for (n, ls) in after for k, r in ls if k == "route" and r.startswith("/api/v1/tracks/<"))
    assert value(after, "funkwhale_http_request_duration_seconds_count", route=route, method="GET") >= 2
    assert not [labels for _, labels in after if any("987654321" in v for _, v in labels)]


@pytest_twisted.ensureDeferred
async def test_tasks_cache_and_workers_of_the_instance(metered):
    client = metered.client()
    ctx = metered.ctx
    for name in ("test.metrics_ok", "test.metrics_retried", "test.metrics_dead"):
        await q.enqueue(ctx, name)

    async def counted() -> Samples:
        for _ in range(200):
            samples = await scrape(client)
            if value(samples, "funkwhale_tasks_total", task="test.metrics_dead", outcome="dead") and value(
                samples, "funkwhale_tasks_total", task="test.metrics_retried", outcome="retry"
            ):
                return samples
        raise AssertionError("the task runs were not counted")

    samples = await counted()
    assert ran == ["ok"]
    assert value(samples, "funkwhale_tasks_total", task="test.metrics_ok", outcome="success") == 1
    assert value(samples, "funkwhale_task_duration_seconds_count", task="test.metrics_ok") == 1
    assert value(samples, "funkwhale_task_duration_seconds_bucket", task="test.metrics_ok", le="+Inf") == 1
    assert value(samples, "funkwhale_queue_messages", queue="default", state="dead") == 1
    assert value(samples, "funkwhale_queue_messages", queue="default", state="delayed") == 1  # the retry
    assert value(samples, "funkwhale_worker_processes") == 1
    assert value(samples, "funkwhale_worker_consumers") >= 1
    assert value(samples, "funkwhale_metrics_source_up", source="redis") == 1
    assert value(samples, "funkwhale_metrics_source_up", source="postgresql") == 1
    assert value(samples, "funkwhale_db_connections", state="active") >= 1  # the scrape's own query
    assert value(samples, "funkwhale_db_pool_size") == metered.ctx.settings.db_pool_size

    hits = value(samples, "funkwhale_cache_reads_total", cache="nodeinfo", result="hit")
    for _ in range(2):
        assert (await client.get("/api/v1/instance/nodeinfo/2.0/")).code == 200
    later = await scrape(client)
    assert value(later, "funkwhale_cache_reads_total", cache="nodeinfo", result="hit") >= hits + 1


@pytest_twisted.ensureDeferred
async def test_running_transcodes_are_counted(metered, db_conn, settings):
    user, library = owner_with_library(db_conn, "alice")
    song = fifo_song(db_conn, settings, library, "Stalled")
    client = metered.client()
    assert value(await scrape(client), "funkwhale_transcodes_running") == 0
    stalled = await stalled_request(metered, f"{song.url}?to=mp3", session(db_conn, user)["Cookie"])
    try:
        await wait_until(lambda: len(ffmpeg_children()) == 1, "ffmpeg")
        samples = await scrape(client)
        assert value(samples, "funkwhale_transcodes_running") == 1
        assert value(samples, "funkwhale_transcodes_started_total") == 1
    finally:
        stalled.transport.abortConnection()
    await wait_until(lambda: ffmpeg_children() == [], "ffmpeg to be killed")
    assert value(await scrape(client), "funkwhale_transcodes_running") == 0


@pytest_twisted.ensureDeferred
async def test_a_listener_of_its_own_serves_only_metrics(settings):
    on = dataclasses.replace(settings, metrics=True, metrics_listen="tcp:0:interface=127.0.0.1")
    running = await start_server(on)
    try:
        port = running.service.getServiceNamed("metrics").port.getHost().port
        private = ApiClient(f"http://127.0.0.1:{port}")
        assert "funkwhale_queue_messages" in {name for name, _ in await scrape(private)}
        for path in ("/", "/api/v1/instance/nodeinfo/2.0/", "/metrics/x", "/metricsx"):
            assert (await private.get(path)).code == 404, path
        # no token: the public listener does not serve them at all
        assert (await running.client().get("/metrics", headers=BEARER)).code == 404
    finally:
        await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_the_metrics_listener_asks_for_the_token_when_there_is_one(settings):
    on = dataclasses.replace(settings, metrics=True, metrics_token=TOKEN, metrics_listen="tcp:0:interface=127.0.0.1")
    running = await start_server(on)
    try:
        port = running.service.getServiceNamed("metrics").port.getHost().port
        private = ApiClient(f"http://127.0.0.1:{port}")
        assert (await private.get("/metrics")).code == 401
        await scrape(private)
    finally:
        await running.service.stopService()


@pytest.mark.parametrize(
    ("environ", "error"),
    [
        ({"FUNKWHALE_METRICS": "true"}, "needs FUNKWHALE_METRICS_TOKEN or FUNKWHALE_METRICS_LISTEN"),
        ({"FUNKWHALE_METRICS": "true", "FUNKWHALE_METRICS_TOKEN": "short"}, "at least 16"),
        ({"FUNKWHALE_METRICS": "true", "FUNKWHALE_METRICS_LISTEN": "nonsense:1"}, "FUNKWHALE_METRICS_LISTEN"),
    ],
)
def test_metrics_are_never_served_openly_on_the_web_listener(environ: dict[str, Any], error: str, tmp_path):
    with pytest.raises(ConfigError, match=error):
        load_settings({"FUNKWHALE_DATA_DIR": str(tmp_path), **environ})
