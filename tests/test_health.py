import pytest_twisted
from twisted.logger import globalLogPublisher


@pytest_twisted.ensureDeferred
async def test_health_reports_postgres_and_redis(client):
    resp = await client.get("/api/v1/health/")
    assert resp.code == 200
    assert resp.json == {"status": "ok", "postgres": True, "redis": True}


@pytest_twisted.ensureDeferred
async def test_health_says_unavailable_when_redis_is_gone_and_logs_why(server, client):
    warnings: list[dict] = []

    def keep(event: dict) -> None:
        if event.get("log_namespace") == "funkwhale.web.api.health":
            warnings.append(event)

    await server.ctx.redis.cmd.disconnect()
    globalLogPublisher.addObserver(keep)
    try:
        resp = await client.get("/api/v1/health/")
    finally:
        globalLogPublisher.removeObserver(keep)
    assert resp.code == 503
    assert resp.json["redis"] is False and resp.json["postgres"] is True
    assert [(e["dependency"], bool(e["reason"])) for e in warnings] == [("redis", True)]


@pytest_twisted.ensureDeferred
async def test_health_says_starting_until_every_service_has_started(server, client):
    site = server.service.getServiceNamed("web").site
    site.ready = False  # as between the listener's bind and the web service's start
    try:
        resp = await client.get("/api/v1/health/")
    finally:
        site.ready = True
    assert (resp.code, resp.json) == (503, {"status": "starting"})
    assert (await client.get("/api/v1/health/")).code == 200
