"""Media in an S3-compatible bucket (moto's server, tests/s3_server.py), over HTTP against the real daemon: an upload
goes to the bucket and is imported from it (tags read by ranges), played whole and by ranges, transcoded (the
transcode cached in the bucket), its cover and a crop served; behind nginx the answer is an X-Accel-Redirect to the
presigned URL, with PROXY_MEDIA=false a redirect to it; a missing or unreachable bucket is a clear error and
records nothing."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import mutagen
import pytest
import pytest_twisted
import treq
from twisted.internet.task import deferLater
from twisted.logger import globalLogPublisher

from funkwhale import storage
from funkwhale.music.attachments.crops import prune_picture_cache
from funkwhale.music.importer.pipeline import process_upload
from funkwhale.music.metadata import read_metadata
from funkwhale.storage.s3 import S3Store

from . import catalog_factories as cf
from .audio import encoded_tone, make_audio, make_cover
from .conftest import start_server
from .playback_helpers import add_playable, probe
from .s3_server import free_port
from .test_libraries import Session, count_rows
from .test_uploads import files_under, form, settled, upload, upload_row


@pytest.fixture(scope="module")
def bucket(s3_server) -> str:
    return s3_server.new_bucket()


@pytest_twisted.async_yield_fixture
async def s3(settings, s3_server, bucket):
    """The whole daemon (web, worker) with its media in the module's bucket, no nginx."""
    running = await start_server(s3_server.settings(settings, bucket))
    yield running
    await running.service.stopService()


def local_path(url: str, settings: Any) -> str:
    return url.removeprefix(settings.base_url)


@pytest_twisted.ensureDeferred
async def test_upload_import_play_transcode_and_cover_from_the_bucket(s3, s3_server, bucket, db_conn, alice, tmp_path):
    library = cf.insert_library(db_conn, alice, "me", name="music")
    me = Session(s3, db_conn, alice)
    song = make_audio(tmp_path, "song", "mp3", title="Cloud Song", artist="Nimbus", album="Sky",
                      cover=make_cover("blue", (300, 200)))  # fmt: skip
    data = song.read_bytes()
    resp = await upload(me, form({"library": str(library["uuid"])}, data, filename="song.mp3"))
    assert resp.code == 201, resp
    done = await settled(me, resp.json["uuid"], s3.ctx.clock)
    assert done["import_status"] == "finished", done
    assert done["track"]["title"] == "Cloud Song" and done["track"]["artist"]["name"] == "Nimbus"
    row = upload_row(db_conn, resp.json["uuid"])
    assert s3_server.read(bucket, row["audio_file"]) == data
    assert files_under(s3.ctx.settings, "tracks") == [] and files_under(s3.ctx.settings, "incoming") == []

    track = (await me.get(f"/api/v1/tracks/{done['track']['id']}/")).json
    url = track["listen_url"]
    whole = await me.get(url)
    assert whole.code == 200 and whole.body == data and whole.header("Content-Type") == "audio/mpeg", whole
    part = await me.get(url, headers={"Range": "bytes=100-1099"})
    assert part.code == 206 and part.body == data[100:1100], part
    assert part.header("Content-Range") == f"bytes 100-1099/{len(data)}"
    head = await me.request("HEAD", url)
    assert head.code == 200 and head.body == b"" and head.header("Content-Length") == str(len(data)), head
    unchanged = await me.get(url, headers={"If-None-Match": whole.header("ETag") or ""})
    assert unchanged.code == 304 and unchanged.body == b""

    ogg = await me.get(url + "?to=ogg")
    assert ogg.code == 200 and probe(ogg.body, tmp_path)[0] == "ogg", ogg
    with db_conn.cursor() as cur:
        cur.execute("SELECT audio_file FROM upload_version")
        (version,) = cur.fetchall()
    assert s3_server.read(bucket, version["audio_file"]) == ogg.body  # cached in the bucket, not on the disk
    assert files_under(s3.ctx.settings, "transcoded") == []
    cached = await me.get(url + "?to=ogg", headers={"Range": "bytes=0-99"})
    assert cached.code == 206 and cached.body == ogg.body[:100], cached

    urls = track["album"]["cover"]["urls"]
    original = await me.get(local_path(urls["original"], s3.ctx.settings))
    assert original.code == 200 and original.body[:3] == b"\xff\xd8\xff", original
    crop = await me.get(local_path(urls["medium_square_crop"], s3.ctx.settings))
    assert crop.code == 200 and crop.header("Content-Type") == "image/jpeg", crop
    crops = [key for key in s3_server.keys(bucket, "attachments/") if key.endswith("-200.jpg")]
    assert len(crops) == 1 and s3_server.read(bucket, crops[0]) == crop.body
    assert files_under(s3.ctx.settings, "attachments") == []
    pruned = await prune_picture_cache(s3.ctx, max_bytes=0)  # every crop over the budget
    assert (pruned.stale, pruned.orphans) == (1, 0) and s3_server.keys(bucket, crops[0]) == []
    assert (await me.get(local_path(urls["medium_square_crop"], s3.ctx.settings))).body == crop.body  # made again

    assert (await me.delete(f"/api/v1/uploads/{done['uuid']}/")).code == 204
    assert row["audio_file"] not in s3_server.keys(bucket, "tracks/")


@pytest_twisted.ensureDeferred
async def test_tags_are_read_by_ranges(s3_server, bucket, settings, tmp_path):
    """mutagen reads the head and tail of a file: a long mp3's tags come with a few ranged GETs, not the file."""
    song = make_audio(tmp_path, "long", "flac", title="Long", artist="Slow", cover=make_cover("red"))
    store = S3Store(s3_server.settings(settings, bucket))
    name = storage.new_name(storage.TRACKS, ".flac")
    store.save(name, song, move=False)
    assert read_metadata(store.file(name)) == read_metadata(song)
    assert read_metadata(pickle.loads(pickle.dumps(store.file(name)))) == read_metadata(song)  # for a process pool
    big = encoded_tone("mp3", 120.0)
    store.save("tracks/big.mp3", big, move=False)
    with store.file("tracks/big.mp3").open() as fh:
        assert mutagen.File(fh).info.length > 100
        assert 0 < fh.fetched < big.stat().st_size / 10


async def _play(settings: Any, db_conn: Any, s3_server: Any, bucket: str, tmp_path: Any, **changes: Any) -> Any:
    """A web server on the bucket (`changes` to its settings), a track whose file is only there, and a session."""
    running = await start_server(s3_server.settings(dataclasses.replace(settings, role="web"), bucket, **changes))
    user = cf.insert_listener(db_conn, "listener")
    library = cf.insert_library(db_conn, user, "me")
    song = add_playable(db_conn, running.ctx.settings, library, "ogg")
    key = f"{changes.get('aws_location', '')}/{song.upload['audio_file']}".lstrip("/")
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=song.path.read_bytes())
    song.path.unlink()
    return running, Session(running, db_conn, user), song


@pytest_twisted.ensureDeferred
async def test_nginx_gets_an_accel_redirect_to_a_presigned_url(settings, db_conn, s3_server, bucket, tmp_path):
    running, me, song = await _play(settings, db_conn, s3_server, bucket, tmp_path, reverse_proxy="nginx",
                                    aws_location="media")  # fmt: skip
    try:
        resp = await me.get(song.url)
        location = resp.header("X-Accel-Redirect") or ""
        assert resp.code == 200 and resp.body == b"" and resp.header("Content-Type") == "audio/ogg", resp
        assert location.startswith(f"/_protected/media/{s3_server.endpoint}/{bucket}/media/tracks/"), location
        presigned = location.removeprefix("/_protected/media/")
        fetched = await treq.get(presigned, headers={"Range": "bytes=10-19"})
        stored = s3_server.read(bucket, f"media/{song.upload['audio_file']}")
        assert fetched.code == 206 and await fetched.content() == stored[10:20]
    finally:
        await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_proxy_media_false_redirects_to_a_presigned_url(settings, db_conn, s3_server, bucket, tmp_path):
    running, me, song = await _play(settings, db_conn, s3_server, bucket, tmp_path, proxy_media=False)
    try:
        resp = await me.get(song.url)
        assert resp.code == 302, resp
        location = resp.header("Location") or ""
        assert location.startswith(f"{s3_server.endpoint}/{bucket}/tracks/") and "X-Amz-Signature=" in location
        fetched = await treq.get(location)
        assert fetched.code == 200 and await fetched.content() == s3_server.read(bucket, song.upload["audio_file"])
        assert fetched.headers.getRawHeaders("content-type") == ["audio/ogg"]
    finally:
        await running.service.stopService()


@pytest.mark.parametrize("where", ["missing bucket", "endpoint down"])
@pytest_twisted.ensureDeferred
async def test_an_unusable_bucket_refuses_uploads_and_fails_imports(where, settings, db_conn, s3_server, alice):
    if where == "missing bucket":
        changed = s3_server.settings(settings, "fw-no-such-bucket")
    else:
        changed = s3_server.settings(settings, "fw-any", aws_s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    logged: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        if event.get("log_format", "").startswith("media storage unusable"):
            logged.append(event["error"])

    globalLogPublisher.addObserver(observe)
    running = await start_server(dataclasses.replace(changed, role="web"))
    try:
        library = cf.insert_library(db_conn, alice, "me", name="music")
        me = Session(running, db_conn, alice)
        data = encoded_tone("ogg").read_bytes()
        resp = await upload(me, form({"library": str(library["uuid"])}, data, filename="song.ogg"))
        assert resp.code == 503 and resp.json["code"] == "storage_unavailable", resp
        assert count_rows(db_conn, "upload") == 0 and count_rows(db_conn, "task") == 0
        assert files_under(running.ctx.settings, "incoming") == [] and files_under(running.ctx.settings, "tracks") == []

        pending = cf.insert_upload(db_conn, library, None, import_status="pending")
        assert await process_upload(running.ctx, pending["id"]) == "errored"
        with db_conn.cursor() as cur:
            cur.execute("SELECT import_status, import_details FROM upload WHERE id = %s", (pending["id"],))
            failed = cur.fetchone()
        assert failed["import_details"]["error_code"] == "storage_unavailable", failed
        while not logged:  # the start's check runs in a thread, not awaited
            await deferLater(running.ctx.clock, 0.05, lambda: None)
        assert changed.aws_storage_bucket_name in logged[0], logged
    finally:
        globalLogPublisher.removeObserver(observe)
        await running.service.stopService()
