from datetime import timedelta

import pytest_twisted

from funkwhale.jobs import housekeeping_jobs

from .factories import insert_session, insert_user


def _sessions(db_conn):
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM session")
        return cur.fetchone()["n"]


@pytest_twisted.ensureDeferred
async def test_expired_sessions_are_refused_then_deleted_by_the_hourly_job(server, db_conn):
    user = insert_user(db_conn, "alice")
    expired, _ = insert_session(db_conn, user["id"], lifetime=timedelta(seconds=-1))
    live, _ = insert_session(db_conn, user["id"])

    client = server.client()
    resp = await client.get("/api/v1/users/me/", headers={"Cookie": f"sessionid={expired}"})
    assert resp.code == 401
    resp = await client.get("/api/v1/users/me/", headers={"Cookie": f"sessionid={live}"})
    assert resp.code == 200 and resp.json["username"] == "alice"

    job = {j.name: j for j in housekeeping_jobs(server.ctx)}["users.clear_expired_sessions"]
    await job.run()
    assert _sessions(db_conn) == 1
    resp = await client.get("/api/v1/users/me/", headers={"Cookie": f"sessionid={live}"})
    assert resp.code == 200
