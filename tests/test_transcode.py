"""Transcoding on /api/v1/listen/: live ffmpeg output streamed to the client, the cache the next request
reuses (with Range), max_bitrate, a client that leaves mid-stream, concurrent first requests, pruning."""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest_twisted
from twisted.internet import reactor, threads
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater

from funkwhale.jobs import housekeeping_jobs
from funkwhale.music.playback.transcode import prune_transcode_cache
from funkwhale.subsonic.media import TOO_MANY

from .catalog_factories import set_preference
from .conftest import start_server
from .playback_helpers import (
    LoggedFailures,
    add_playable,
    ffmpeg_children,
    long_wav,
    loud_mp3,
    owner_with_library,
    probe,
    raw_request,
    session,
)
from .subsonic_helpers import Subsonic

# to= -> (Content-Type, ffmpeg's name of the container it decodes)
EXPECTED = {
    "mp3": ("audio/mpeg", "mp3"),
    "ogg": ("audio/ogg", "ogg"),
    "opus": ("audio/opus", "ogg"),
    "aac": ("audio/aac", "aac"),
    "flac": ("audio/flac", "flac"),
}


def versions(conn) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM upload_version ORDER BY id")
        return cur.fetchall()


def partial_files(settings) -> list[str]:
    root = settings.media_path / "transcoded"
    return [str(p) for p in root.rglob("*.part")] if root.exists() else []


async def wait_until(check, what: str, limit: float = 20.0) -> None:
    waited = 0.0
    while not check():
        assert waited < limit, f"gave up waiting for {what}"
        await deferLater(reactor, 0.05, lambda: None)
        waited += 0.05


@pytest_twisted.ensureDeferred
async def test_transcode_each_format_then_serve_from_cache(server, db_conn, settings, tmp_path):
    user, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "wav", bitrate=1411200)
    auth = session(db_conn, user)
    for to, (mimetype, container) in EXPECTED.items():
        live = await raw_request(server.base, "GET", f"{song.url}?to={to}", auth)
        assert live.status == 200, to
        assert live.headers["content-type"] == mimetype
        assert "content-length" not in live.headers and live.headers["transfer-encoding"] == "chunked"
        found, duration = probe(live.body, tmp_path)
        assert found == container, to
        assert abs(duration - 2.0) < 0.2, (to, duration)

        row = [v for v in versions(db_conn) if v["mimetype"] == mimetype]
        assert len(row) == 1 and row[0]["size"] == len(live.body), to
        cached = settings.media_path / row[0]["audio_file"]
        assert cached.read_bytes() == live.body

        again = await raw_request(
            server.base, "GET", f"{song.url}?to={to}", {**auth, "Range": "bytes=10-109"}
        )
        assert again.status == 206, to
        assert again.headers["content-type"] == mimetype
        assert again.headers["content-range"] == f"bytes 10-109/{len(live.body)}"
        assert again.body == live.body[10:110]
    assert len(versions(db_conn)) == len(EXPECTED)
    assert partial_files(settings) == []


@pytest_twisted.ensureDeferred
async def test_max_bitrate(server, db_conn, settings, tmp_path):
    user, library = owner_with_library(db_conn, "alice")
    loud = loud_mp3(tmp_path)
    song = add_playable(db_conn, settings, library, "mp3", source_file=loud, bitrate=320000)
    client, auth = server.client(), session(db_conn, user)

    small = await client.get(song.url, headers=auth, params={"max_bitrate": "64"})
    assert small.code == 200
    assert small.header("Content-Type") == "audio/mpeg"
    assert probe(small.body, tmp_path)[0] == "mp3"
    assert len(small.body) < loud.stat().st_size / 3
    assert [(v["mimetype"], v["bitrate"]) for v in versions(db_conn)] == [("audio/mpeg", 64)]

    # a limit the original meets, or a format it already has: the original itself
    same = await client.get(
        song.url, headers={**auth, "Range": "bytes=0-99"}, params={"max_bitrate": "320", "to": "mp3"}
    )
    assert same.code == 206 and same.body == loud.read_bytes()[:100]


@pytest_twisted.ensureDeferred
async def test_head_and_disabled_transcoding_run_no_ffmpeg(server, db_conn, settings):
    user, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "flac")
    auth = session(db_conn, user)
    head = await raw_request(server.base, "HEAD", f"{song.url}?to=ogg", auth)
    assert head.status == 200 and head.body == b""
    assert head.headers["content-type"] == "audio/ogg"
    assert versions(db_conn) == []

    set_preference(db_conn, "music__transcoding_enabled", False)
    original = await server.client().get(song.url, headers=auth, params={"to": "mp3"})
    assert original.code == 200
    assert original.header("Content-Type") == "audio/flac"
    assert original.body == song.path.read_bytes()


class FirstBytes(Protocol):
    def __init__(self) -> None:
        self.first: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        if not self.first.called:
            self.first.callback(data)


async def leave_after_first_bytes(server, path: str, cookie: str, check) -> bytes:
    """GET `path`, stop reading after the first bytes, assert `check()` while the response is going on,
    then drop the connection; returns the first bytes."""
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", server.port.getHost().port)
    listener = await connectProtocol(endpoint, FirstBytes())
    listener.transport.write(f"GET {path} HTTP/1.1\r\nHost: test\r\nCookie: {cookie}\r\n\r\n".encode())
    first = await listener.first
    listener.transport.pauseProducing()
    assert check()
    listener.transport.abortConnection()
    return first


@pytest_twisted.ensureDeferred
async def test_client_leaving_mid_download(server, db_conn, settings, tmp_path):
    user, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "wav", source_file=long_wav(tmp_path, 120))
    site = server.port.factory
    with LoggedFailures() as failures:
        first = await leave_after_first_bytes(
            server, song.url, session(db_conn, user)["Cookie"], lambda: site.in_flight
        )
        assert first.startswith(b"HTTP/1.1 200")
        await wait_until(lambda: not site.in_flight, "the request to end")
    assert failures == []


def feed_fifo(fifo, source, amount: int, release: threading.Event) -> None:
    """Write the first `amount` bytes of `source` into the named pipe, then hold it open until `release`:
    ffmpeg reading it can only end by being killed."""
    try:
        with open(fifo, "wb") as pipe:
            pipe.write(source.read_bytes()[:amount])
            pipe.flush()
            release.wait(120)
    except BrokenPipeError:
        pass


@pytest_twisted.ensureDeferred
async def test_client_leaving_mid_transcode_kills_ffmpeg(server, db_conn, settings, tmp_path):
    user, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "wav", source_file=long_wav(tmp_path, 60), in_place=True)
    song.path.unlink()
    os.mkfifo(song.path)
    release = threading.Event()
    feeding = threads.deferToThread(feed_fifo, song.path, long_wav(tmp_path, 60), 2_000_000, release)
    cookie = session(db_conn, user)["Cookie"]
    assert ffmpeg_children() == []
    try:
        with LoggedFailures() as failures:
            first = await leave_after_first_bytes(
                server, f"{song.url}?to=mp3", cookie, lambda: ffmpeg_children()
            )
            assert first.startswith(b"HTTP/1.1 200")
            await wait_until(lambda: ffmpeg_children() == [], "ffmpeg to be killed")
            await wait_until(lambda: partial_files(settings) == [], "the partial transcode to be removed")
            await wait_until(lambda: not server.port.factory.in_flight, "the request to end")
        assert versions(db_conn) == []
        assert failures == []
    finally:
        release.set()
        await feeding


@pytest_twisted.ensureDeferred
async def test_concurrent_first_requests_share_one_cache_entry(server, db_conn, settings, tmp_path):
    user, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "flac")
    auth = session(db_conn, user)
    bodies = await gatherResults(
        [
            Deferred.fromCoroutine(raw_request(server.base, "GET", f"{song.url}?to=opus", auth))
            for _ in range(3)
        ]
    )
    assert {b.status for b in bodies} == {200}
    for body in bodies:
        assert probe(body.body, tmp_path)[0] == "ogg"
    rows = versions(db_conn)
    assert len(rows) == 1
    cached = (settings.media_path / rows[0]["audio_file"]).read_bytes()
    assert cached in {b.body for b in bodies} and rows[0]["size"] == len(cached)
    assert partial_files(settings) == []


def add_version(conn, settings, upload: dict, name: str, size: int, accessed: datetime) -> str:
    relative = f"transcoded/{name}"
    path = settings.media_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO upload_version (upload_id, mimetype, bitrate, audio_file, size, accessed_date)"
            " VALUES (%s, 'audio/mpeg', %s, %s, %s, %s)",
            (upload["id"], size, relative, size, accessed),
        )
    return relative


@pytest_twisted.ensureDeferred
async def test_prune_by_age_then_size(server, db_conn, settings):
    job = {job.name: job for job in housekeeping_jobs(server.ctx)}["music.prune_transcode_cache"]
    _, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "mp3")
    now = datetime.now(UTC)
    old = add_version(db_conn, settings, song.upload, "old.mp3", 100, now - timedelta(days=8))
    middle = add_version(db_conn, settings, song.upload, "middle.mp3", 300, now - timedelta(days=2))
    recent = add_version(db_conn, settings, song.upload, "recent.mp3", 200, now - timedelta(hours=1))

    assert await prune_transcode_cache(server.ctx, max_age_days=7, max_bytes=10_000) == 1
    assert {v["audio_file"] for v in versions(db_conn)} == {middle, recent}
    assert not (settings.media_path / old).exists()

    assert await prune_transcode_cache(server.ctx, max_age_days=7, max_bytes=400) == 1
    assert [v["audio_file"] for v in versions(db_conn)] == [recent]
    assert not (settings.media_path / middle).exists() and (settings.media_path / recent).exists()

    # the hourly job queues the durable task; the worker prunes with the instance preference's age (minutes)
    set_preference(db_conn, "music__transcoding_cache_duration", 30)
    await job.run()
    await wait_until(lambda: versions(db_conn) == [], "the worker to prune the cache")
    assert not (settings.media_path / recent).exists()


@pytest_twisted.ensureDeferred
async def test_file_ffmpeg_cannot_read(server, db_conn, settings, tmp_path):
    user, library = owner_with_library(db_conn, "alice")
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"this is not audio, only text. " * 700)
    song = add_playable(db_conn, settings, library, "mp3", source_file=garbage)
    response = await server.client().get(song.url, headers=session(db_conn, user), params={"to": "ogg"})
    assert response.code == 500
    assert response.json["code"] == "transcoding_failed"
    assert versions(db_conn) == [] and partial_files(settings) == []


async def stalled_request(running, path: str, cookie: str) -> Protocol:
    """Start a GET and leave it unanswered: the caller reads nothing (abort its transport to leave)."""
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", running.port.getHost().port)
    client = await connectProtocol(endpoint, FirstBytes())
    client.transport.write(f"GET {path} HTTP/1.1\r\nHost: test\r\nCookie: {cookie}\r\n\r\n".encode())
    return client


def fifo_song(conn, settings, library, title: str):
    """A playable in-place wav that is a named pipe nobody writes: ffmpeg waits on it until it is killed."""
    song = add_playable(conn, settings, library, "wav", title=title, in_place=True)
    song.path.unlink()
    os.mkfifo(song.path)
    return song


@pytest_twisted.ensureDeferred
async def test_transcodes_are_capped_per_listener_and_in_all(db_conn, settings, tmp_path):
    running = await start_server(dataclasses.replace(settings, transcode_max_per_user=2, transcode_max_total=3))
    alice, alices = owner_with_library(db_conn, "alice")
    bob, bobs = owner_with_library(db_conn, "bob")
    cookies = {name: session(db_conn, user)["Cookie"] for name, user in (("alice", alice), ("bob", bob))}
    cached = add_playable(db_conn, settings, alices, "flac", title="Cached")
    stalled = []
    try:
        first = await raw_request(running.base, "GET", f"{cached.url}?to=mp3", {"Cookie": cookies["alice"]})
        assert first.status == 200 and len(versions(db_conn)) == 1
        for name, library, count in (("alice", alices, 1), ("alice", alices, 2), ("bob", bobs, 3)):
            song = fifo_song(db_conn, settings, library, f"Stalled {count}")
            stalled.append(await stalled_request(running, f"{song.url}?to=mp3", cookies[name]))
            await wait_until(lambda count=count: len(ffmpeg_children()) == count, f"ffmpeg number {count}")

        # Alice runs 2 (her cap), Bob 1, 3 in all: one more live transcode is refused for either of them.
        more = {}
        for name, library in (("alice", alices), ("bob", bobs)):
            song = more[name] = add_playable(db_conn, settings, library, "flac", title=f"More for {name}")
            refused = await raw_request(running.base, "GET", f"{song.url}?to=mp3", {"Cookie": cookies[name]})
            assert refused.status == 503 and refused.headers["retry-after"] == "5", (name, refused)
            assert json.loads(refused.body)["code"] == "too_many_transcodes"
        # Subsonic says so with its error 0, and announces no length it will not send.
        params = {"v": "1.16.1", "c": "tests", "f": "json", "id": more["alice"].track["id"], "format": "mp3"}
        query = urlencode({**params, **Subsonic(running, alice).credentials(), "estimateContentLength": "true"})
        busy = await raw_request(running.base, "GET", f"/rest/stream?{query}", {})
        error = json.loads(busy.body)["subsonic-response"]["error"]
        assert busy.status == 200 and error == {"code": 0, "message": TOO_MANY}
        assert busy.headers.get("content-length", str(len(busy.body))) == str(len(busy.body)), busy.headers
        # A transcode already in the cache needs no ffmpeg: it is served.
        again = await raw_request(running.base, "GET", f"{cached.url}?to=mp3", {"Cookie": cookies["alice"]})
        assert again.status == 200 and again.body == first.body
        assert len(ffmpeg_children()) == 3

        # Clients that leave free their slots.
        for client in stalled:
            client.transport.abortConnection()
        await wait_until(lambda: ffmpeg_children() == [], "the stalled ffmpeg processes to be killed")
        later = await raw_request(running.base, "GET", f"{song.url}?to=mp3", {"Cookie": cookies["bob"]})
        assert later.status == 200 and probe(later.body, tmp_path)[0] == "mp3"
    finally:
        for client in stalled:
            client.transport.abortConnection()
        await wait_until(lambda: ffmpeg_children() == [], "ffmpeg to end")
        await running.service.stopService()
