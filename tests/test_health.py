import pytest_twisted


@pytest_twisted.ensureDeferred
async def test_health_reports_postgres_and_redis(client):
    resp = await client.get("/api/v1/health/")
    assert resp.code == 200
    assert resp.json == {"status": "ok", "postgres": True, "redis": True}


@pytest_twisted.ensureDeferred
async def test_health_says_unavailable_when_redis_is_gone(server, client):
    await server.ctx.redis.cmd.disconnect()
    resp = await client.get("/api/v1/health/")
    assert resp.code == 503
    assert resp.json["redis"] is False and resp.json["postgres"] is True
