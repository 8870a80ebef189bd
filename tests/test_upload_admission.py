"""Upload bodies are admitted from their headers, before any of the body is read: anonymous callers get 401, a
Content-Length over the caller's quota 413, one upload too many at once 429; and a body that stalls or trickles
is dropped. Raw connections (tests/rawhttp.py) send headers announcing a body the client never sends."""

from __future__ import annotations

import dataclasses

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import deferLater

from . import catalog_factories as cf
from .conftest import start_server
from .factories import insert_session
from .rawhttp import connect, request_head
from .test_uploads import CONTENT_TYPE, files_under, form_parts

BIG = 64 * 1024 * 1024


@pytest_twisted.async_yield_fixture
async def gated_server(settings):
    running = await start_server(
        dataclasses.replace(
            settings, role="web", upload_max_concurrent_per_user=2, body_timeout=1, body_min_rate=100_000
        )
    )
    yield running
    await running.service.stopService()


@pytest.fixture
def library(db_conn, alice):
    return cf.insert_library(db_conn, alice, "me", name="music")


def port_of(server) -> int:
    return server.port.getHost().port


def session_headers(db_conn, user) -> dict[str, str]:
    key, csrf = insert_session(db_conn, user["id"])
    return {"Cookie": f"sessionid={key}; csrftoken={csrf}", "X-CSRFToken": csrf}


async def send_head(server, path: str, headers: dict[str, str], first_bytes: bytes = b""):
    conn = await connect(port_of(server))
    conn.send(request_head("POST", path, headers) + first_bytes)
    return conn


@pytest_twisted.ensureDeferred
async def test_an_anonymous_upload_is_refused_before_its_body(gated_server, settings, library):
    head, _ = form_parts({"library": str(library["uuid"])}, "audio_file")
    headers = {"Content-Type": CONTENT_TYPE, "Content-Length": str(BIG)}
    # the path as Twisted routes it: escapes and a missing slash lead to the same route, and to the same gate
    for path, length in (("/api/v1/uploads/", BIG), ("/api/v1/%75ploads", BIG), ("/api/v1/attachments/", 5 << 20)):
        conn = await send_head(gated_server, path, {**headers, "Content-Length": str(length)}, head)
        resp = await conn.response()  # the client never sends the body: the answer comes without it
        assert resp.status == 401, (path, resp)
        assert resp.json == {"detail": "Authentication credentials were not provided.", "code": "not_authenticated"}
        assert resp.headers["server"] == "funkwhale" and resp.headers["connection"] == "close"
    # with Expect: 100-continue, the client is told before it sends anything
    conn = await send_head(gated_server, "/api/v1/uploads/", {**headers, "Expect": "100-continue"})
    resp = await conn.response()
    assert resp.status == 401 and resp.informational == [], resp
    assert files_under(settings, "incoming") == []


@pytest_twisted.ensureDeferred
async def test_a_content_length_over_the_quota_is_refused_before_the_body(gated_server, db_conn, alice, library):
    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET upload_quota = 1 WHERE id = %s", (alice["id"],))  # 1 MB
    me = session_headers(db_conn, alice)
    head, _ = form_parts({"library": str(library["uuid"])}, "audio_file")
    conn = await send_head(
        gated_server, "/api/v1/uploads/", {**me, "Content-Type": CONTENT_TYPE, "Content-Length": "5000000"}, head
    )
    resp = await conn.response()
    assert resp.status == 413 and resp.json["code"] == "upload_quota_reached", resp
    assert resp.headers["server"] == "funkwhale"

    # a chunked body has no length to check: it is cut off once it passes what the quota leaves
    conn = await send_head(
        gated_server, "/api/v1/uploads/", {**me, "Content-Type": CONTENT_TYPE, "Transfer-Encoding": "chunked"}
    )
    chunk = b"x" * 256 * 1024
    for _ in range(40):  # 10 MB at most
        if conn.closed:
            break
        conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await deferLater(reactor, 0, lambda: None)
    resp = await conn.response()
    assert resp.status == 413 and resp.json["code"] == "body_too_large", resp


@pytest_twisted.ensureDeferred
async def test_one_upload_too_many_at_once_gets_429(gated_server, db_conn, alice, library):
    me = session_headers(db_conn, alice)
    headers = {**me, "Content-Type": CONTENT_TYPE, "Content-Length": "1000000", "Expect": "100-continue"}
    first = await send_head(gated_server, "/api/v1/uploads/", headers)
    second = await send_head(gated_server, "/api/v1/attachments/", headers)
    for conn in (first, second):
        await conn.until(b"100 Continue")  # admitted: the client may send its body
    third = await send_head(gated_server, "/api/v1/uploads/", headers)
    resp = await third.response()
    assert resp.status == 429 and resp.json["code"] == "throttled", resp

    # once an upload has ended (here, the client left), another one is admitted
    first.close()
    for _ in range(100):  # the server notices the closed connection on one of its next turns
        again = await send_head(gated_server, "/api/v1/uploads/", headers)
        data = await again.until(b"\r\n\r\n")
        if data.startswith(b"HTTP/1.1 100 Continue"):
            break
        await deferLater(reactor, 0.02, lambda: None)
    else:
        raise AssertionError(f"no upload admitted after one ended: {data!r}")
    again.close()
    second.close()


@pytest_twisted.ensureDeferred
async def test_a_stalled_or_trickling_body_is_dropped(gated_server, db_conn, alice, library):
    """FUNKWHALE_BODY_TIMEOUT=1 and FUNKWHALE_BODY_MIN_RATE=100000 here."""
    me = session_headers(db_conn, alice)
    headers = {**me, "Content-Type": CONTENT_TYPE, "Content-Length": "1000000", "Expect": "100-continue"}
    stalled = await send_head(gated_server, "/api/v1/uploads/", headers)
    await stalled.until(b"100 Continue")
    stalled.send(b"--" + b"x" * 10)  # then nothing
    resp = await stalled.response()
    assert resp.status == 408 and resp.json["code"] == "request_timeout", resp

    trickling = await send_head(gated_server, "/api/v1/uploads/", headers)
    await trickling.until(b"100 Continue")
    for _ in range(200):  # 10 bytes every 0.1 s, far below the floor: dropped at its first check
        if trickling.closed:
            break
        trickling.send(b"x" * 10)
        await deferLater(reactor, 0.1, lambda: None)
    resp = await trickling.response()
    assert resp.status == 408, resp

    # any request body, not only uploads
    anonymous = await send_head(gated_server, "/api/v1/users/login/", {"Content-Length": "100"}, b"{")
    resp = await anonymous.response()
    assert resp.status == 408, resp
