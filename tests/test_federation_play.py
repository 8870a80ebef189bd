"""Remote playback between two real instances over HTTPS: B plays alice's upload on A (fetched signed, streamed as
it arrives, cached, pruned), A serves its audio only to who may read the library, and failures cache nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest_twisted
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from twisted.internet import defer, protocol, reactor
from twisted.logger import globalLogPublisher
from twisted.web import resource, server

from funkwhale import storage
from funkwhale.activitypub import actors, remote_actors
from funkwhale.activitypub.fetch import USER_AGENT, Fetcher, Signer
from funkwhale.jobs import housekeeping_jobs
from funkwhale.music.playback.remote import cache_name, lock_key

from .federation_helpers import eventually
from .remote_music import cached, execute, mirror, publish, row, scan

TOKEN = "bob-subsonic-token"


def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class AccessLog:
    """The audio fetches that reach A (its access log: listen requests made by our federation client)."""

    def __init__(self, upload_uuid: str) -> None:
        self.upload_uuid = upload_uuid
        self.hits: list[int] = []

    def __call__(self, event: dict[str, Any]) -> None:
        if (
            event.get("log_namespace") == "funkwhale.access"
            and self.upload_uuid in event.get("uri", "")
            and event.get("user_agent") == USER_AGENT
        ):
            self.hits.append(event["status"])


async def setup(peers: Any, tmp_path: Path, privacy: str = "everyone") -> tuple[Any, Any, Any, dict[str, Any]]:
    """alice's upload on A, its rows on B (scanned from A when public), bob on B (with a Subsonic token)."""
    alice = await peers.user(peers.a, "alice")
    bob = await peers.user(peers.b, "bob")
    published = await publish(peers.a, alice, tmp_path, privacy)
    if privacy == "everyone":
        remote = await scan(peers.b, bob, published)
    else:
        remote = await mirror(peers.a, peers.b, published, "alice")
    await execute(peers.b, "UPDATE users SET subsonic_api_token = %s WHERE username = 'bob'", TOKEN)
    return published, alice, bob, remote


def listen_path(remote: dict[str, Any], **query: str) -> str:
    extra = "".join(f"&{k}={v}" for k, v in query.items())
    return f"/api/v1/listen/{remote['track_uuid']}/?upload={remote['uuid']}&download=false{extra}"


def cached_files(server: Any) -> list[Path]:
    root = Path(server.ctx.settings.media_path) / storage.REMOTE_CACHE
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest_twisted.ensureDeferred
async def test_a_remote_track_plays_streamed_then_from_the_cache(peers, tmp_path):
    published, _, bob, remote = await setup(peers, tmp_path)
    log = AccessLog(published.upload["uuid"])
    globalLogPublisher.addObserver(log)
    try:
        first = await bob.get(listen_path(remote))
        assert first.code == 200, first
        assert first.body == published.data and first.header("Content-Type") == "audio/ogg"
        # A logs its answer when its file sender has finished, which can be after B passed the last bytes on
        await eventually(lambda: log.hits, within=5, what="A logs the fetch")
        assert log.hits == [200], "B fetched the audio from A once"
        copy = await cached(peers.b, remote["id"])
        assert copy["audio_file"].startswith(f"{storage.REMOTE_CACHE}/") and copy["accessed_date"] is not None
        assert storage.absolute(peers.b.ctx.settings, copy["audio_file"]).read_bytes() == published.data

        await execute(peers.b, "UPDATE upload SET accessed_date = now() - interval '1 day' WHERE id = %s", remote["id"])
        again = await bob.get(listen_path(remote), headers={"Range": "bytes=10-"})
        assert again.code == 206 and again.body == published.data[10:], again
        params = {"u": "bob", "p": TOKEN, "v": "1.16.1", "c": "test", "id": f"tr-{remote['track_id']}"}
        stream = await bob.get("/rest/stream", params=params)
        assert stream.code == 200 and stream.body == published.data, stream
        assert log.hits == [200], "the replays came from B's cache: A was not asked again"
        assert (await row(peers.b, remote["id"]))["accessed_date"] >= copy["accessed_date"], "each play is recorded"
    finally:
        globalLogPublisher.removeObserver(log)


class HalfThenRest(resource.Resource):
    """A remote server that sends the first half of a file, then the rest only once `release` fires."""

    isLeaf = True

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data
        self.calls = 0
        self.release: defer.Deferred[None] = defer.Deferred()

    def render_GET(self, request: Any) -> Any:  # noqa: N802 (twisted's name)
        self.calls += 1
        half = len(self.data) // 2
        request.setHeader(b"Content-Length", str(len(self.data)).encode())
        request.write(self.data[:half])
        self.release.addCallback(lambda _: (request.write(self.data[half:]), request.finish()))
        # a B that waited for the whole file before answering would wait for ever: let the test fail instead
        reactor.callLater(30, lambda: self.release.called or self.release.callback(None))
        return server.NOT_DONE_YET


class Listener(protocol.Protocol):
    """Reads a response body; `reached` fires once it holds `wanted` bytes, `done` with the whole body."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.body = b""
        self.reached: defer.Deferred[None] = defer.Deferred()
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (twisted's name)
        self.body += data
        if len(self.body) >= self.wanted and not self.reached.called:
            self.reached.callback(None)

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802 (twisted's name)
        self.done.callback(self.body)


@pytest_twisted.ensureDeferred
async def test_listeners_get_the_audio_as_it_arrives_from_one_download(peers, tmp_path):
    alice = await peers.user(peers.a, "alice")
    bob = await peers.user(peers.b, "bob")
    published = await publish(peers.a, alice, tmp_path, seconds=6)
    origin = HalfThenRest(published.data)
    port = reactor.listenTCP(0, server.Site(origin), interface="127.0.0.1")
    try:
        source = f"http://127.0.0.1:{port.getHost().port}/audio.ogg"
        remote = await mirror(peers.a, peers.b, published, "alice", source=source)
        await execute(peers.b, "UPDATE users SET subsonic_api_token = %s WHERE username = 'bob'", TOKEN)
        params = {"u": "bob", "p": TOKEN, "v": "1.16.1", "c": "test", "id": f"tr-{remote['track_id']}"}
        urls = [
            bob.base + listen_path(remote),
            bob.base + listen_path(remote),
            f"{bob.base}/rest/stream?{urlencode(params)}",
        ]
        listeners = []
        for url in urls:
            response = await bob.http.get(url)
            assert response.code == 200, response.code
            listener = Listener(len(published.data) // 2)
            response.deliverBody(listener)
            listeners.append(listener)
        await defer.gatherResults([listener.reached for listener in listeners])
        assert not origin.release.called, "the listeners got the first half before the origin sent the rest"
        assert origin.calls == 1, "one download for the three listeners"
        origin.release.callback(None)
        for listener in listeners:
            assert await listener.done == published.data
        assert (await cached(peers.b, remote["id"]))["audio_file"]
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_download_running_in_another_process_is_waited_for(peers, tmp_path):
    published, _, bob, remote = await setup(peers, tmp_path)
    log = AccessLog(published.upload["uuid"])
    globalLogPublisher.addObserver(log)
    try:
        upload = await row(peers.b, remote["id"])
        await peers.b.ctx.redis.cmd.set(lock_key(upload), "1", expire=60)  # another web process fetches it
        listening = defer.Deferred.fromCoroutine(bob.get(listen_path(remote)))
        await deferLater(1)
        assert not listening.called and log.hits == [], "the listener waits for the other process's copy"
        name = cache_name(upload)  # the other process records its copy
        path = storage.absolute(peers.b.ctx.settings, name)
        path.parent.mkdir(parents=True)
        path.write_bytes(published.data)
        await execute(peers.b, "UPDATE upload SET audio_file = %s WHERE id = %s", name, remote["id"])
        answer = await listening
        assert answer.code == 200 and answer.body == published.data, answer
        assert log.hits == [], "this process did not fetch it again"
    finally:
        globalLogPublisher.removeObserver(log)


@pytest_twisted.ensureDeferred
async def test_a_transcode_of_a_remote_track(peers, tmp_path):
    _, _, bob, remote = await setup(peers, tmp_path)
    resp = await bob.get(listen_path(remote, to="mp3"))
    assert resp.code == 200 and resp.header("Content-Type") == "audio/mpeg", resp
    assert resp.body[:3] == b"ID3" or resp.body[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xfa"), resp.body[:8]
    assert (await row(peers.b, remote["id"]))["audio_file"], "the original was fetched and cached first"


@pytest_twisted.ensureDeferred
async def test_a_private_library_is_served_only_to_approved_followers(peers, tmp_path):
    published, _, bob, remote = await setup(peers, tmp_path, privacy="me")
    bob_actor = await remote_actors.get_actor(peers.b.ctx, f"{peers.b.base}/federation/actors/bob")
    await execute(peers.b, "INSERT INTO library_follow (fid, actor_id, target_id, approved) VALUES (%s, %s, %s, true)",
                  f"{peers.b.base}/follows/1", bob_actor["id"], remote["library_id"])  # fmt: skip
    url = peers.a.base + published.listen_url
    fetcher = Fetcher.from_settings(peers.b.ctx.settings)
    unsigned = await peers.a.client().get(url)
    assert unsigned.code == 401 and published.data not in unsigned.body, unsigned
    signed = await fetcher.request("GET", url, signer=await actors.signer(peers.b.ctx))
    assert signed.status == 404, signed
    service = await actors.signer(peers.b.ctx)
    assert service is not None
    forged = Signer(service.key_id, rsa_pem())  # B's service actor's key id, another key
    refused = await fetcher.request("GET", url, signer=forged)
    assert refused.status == 403 and published.data not in refused.body, refused
    refused_on_b = await bob.get(listen_path(remote))
    assert refused_on_b.code == 502 and refused_on_b.json["code"] == "remote_unavailable", refused_on_b
    assert (await row(peers.b, remote["id"]))["audio_file"] is None and cached_files(peers.b) == []

    # bob's follow of the library, approved on A: B's service actor may now fetch it for him
    bob_on_a = await remote_actors.get_actor(peers.a.ctx, bob_actor["fid"])
    await execute(peers.a, "INSERT INTO library_follow (fid, actor_id, target_id, approved) VALUES (%s, %s,"
                  " (SELECT id FROM library WHERE uuid = %s), true)",
                  f"{peers.b.base}/follows/1", bob_on_a["id"], published.library["uuid"])  # fmt: skip
    assert (await fetcher.request("GET", url, signer=await actors.signer(peers.b.ctx))).status == 200
    played = await bob.get(listen_path(remote))
    assert played.code == 200 and played.body == published.data, played


@pytest_twisted.ensureDeferred
async def test_the_cache_is_pruned_and_refetched(peers, tmp_path):
    published, _, bob, remote = await setup(peers, tmp_path)
    assert (await bob.get(listen_path(remote))).body == published.data
    first = await cached(peers.b, remote["id"])
    assert (await bob.get(listen_path(remote, to="mp3"))).code == 200
    fresh = await mirror_cached_elsewhere(peers, first)
    await execute(peers.b, "UPDATE upload SET accessed_date = now() - interval '3 days' WHERE id = %s", remote["id"])
    await execute(peers.b, "UPDATE upload_version SET accessed_date = now() - interval '3 days' WHERE upload_id = %s",
                  remote["id"])  # fmt: skip
    job = next(job for job in housekeeping_jobs(peers.b.ctx) if job.name == "federation.clean_music_cache")
    await job.run()  # queues the durable task, which B's worker runs
    while (await row(peers.b, remote["id"]))["audio_file"] is not None:
        await deferLater(0.1)
    while await versions(peers.b, remote["id"]):
        await deferLater(0.1)
    # the files go once the rows are forgotten (committed first, so a play never finds a row without its file)
    await eventually(lambda: cached_files(peers.b) == [fresh], within=10, what="the stale copy deleted")
    assert cached_files(peers.b) == [fresh], "the stale copy and its transcode are gone, a recent one stays"
    assert not any((Path(peers.b.ctx.settings.media_path) / storage.TRANSCODED).rglob("*.mp3"))
    again = await bob.get(listen_path(remote))
    assert again.code == 200 and again.body == published.data
    copy = await cached(peers.b, remote["id"])
    assert copy["audio_file"] == first["audio_file"], "fetched and cached again"

    storage.absolute(peers.b.ctx.settings, copy["audio_file"]).unlink()  # lost from the disk, still recorded
    lost = await bob.get(listen_path(remote))
    assert lost.code == 200 and lost.body == published.data, lost
    path = storage.absolute(peers.b.ctx.settings, copy["audio_file"])
    while not path.exists():  # renamed into place just after the last byte
        await deferLater(0.05)
    assert path.read_bytes() == published.data


async def mirror_cached_elsewhere(peers: Any, copy: dict[str, Any]) -> Path:
    """A second remote upload of B with a recently played cached copy (the pruning keeps it)."""
    name = f"{storage.REMOTE_CACHE}/ff/ff/ffff-recent.ogg"
    path = storage.absolute(peers.b.ctx.settings, name)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"recent")
    await execute(peers.b, """INSERT INTO upload (fid, library_id, track_id, import_status, mimetype, source,
                  audio_file, accessed_date) VALUES (%s, %s, %s, 'finished', 'audio/ogg', %s, %s, now())""",
                  copy["fid"] + "-2", copy["library_id"], copy["track_id"], copy["source"], name)  # fmt: skip
    return path


async def versions(server: Any, upload_id: int) -> list[Any]:
    result: list[Any] = []
    await server.ctx.db.run(lambda txn: (txn.execute("SELECT id FROM upload_version WHERE upload_id = %s",
                                                      (upload_id,)), result.extend(txn.fetchall())),
                            desc="test.versions")  # fmt: skip
    return result


async def deferLater(seconds: float) -> None:  # noqa: N802 (twisted's name)
    from twisted.internet.task import deferLater as later

    await later(reactor, seconds, lambda: None)


class Failing(resource.Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def render_GET(self, request: Any) -> bytes:  # noqa: N802 (twisted's name)
        self.calls += 1
        request.setResponseCode(500)
        return b"boom"


@pytest_twisted.ensureDeferred
async def test_a_failing_remote_server_gives_a_502_and_caches_nothing(peers, tmp_path):
    alice = await peers.user(peers.a, "alice")
    bob = await peers.user(peers.b, "bob")
    published = await publish(peers.a, alice, tmp_path)
    failing = Failing()
    port = reactor.listenTCP(0, server.Site(failing), interface="127.0.0.1")
    try:
        source = f"http://127.0.0.1:{port.getHost().port}/audio.ogg"
        remote = await mirror(peers.a, peers.b, published, "alice", source=source)
        await execute(peers.b, "UPDATE users SET subsonic_api_token = %s WHERE username = 'bob'", TOKEN)
        resp = await bob.get(listen_path(remote))
        assert resp.code == 502 and resp.json["code"] == "remote_unavailable", resp
        stream = await bob.get(
            "/rest/stream",
            params={"u": "bob", "p": TOKEN, "v": "1.16.1", "c": "test", "id": f"tr-{remote['track_id']}", "f": "json"},
        )
        assert stream.json["subsonic-response"]["status"] == "failed", stream
        assert failing.calls == 2
        assert (await row(peers.b, remote["id"]))["audio_file"] is None
        assert cached_files(peers.b) == [], "no partial file is left"
    finally:
        await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_rejected_media_are_not_fetched(peers, tmp_path):
    published, _, bob, remote = await setup(peers, tmp_path)
    log = AccessLog(published.upload["uuid"])
    globalLogPublisher.addObserver(log)
    try:
        await execute(peers.b, "INSERT INTO instance_policy (target_domain, reject_media) VALUES (%s, true)",
                      remote_actors.domain_of(peers.a.base))  # fmt: skip
        resp = await bob.get(listen_path(remote))
        assert resp.code == 403 and resp.json["code"] == "media_rejected", resp
        assert log.hits == [] and cached_files(peers.b) == []
    finally:
        globalLogPublisher.removeObserver(log)
