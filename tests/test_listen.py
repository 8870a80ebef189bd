"""GET|HEAD /api/v1/listen/<track>/ serving original files: Range, HEAD, content types, downloads, who may
listen (sessions, listen tokens, anonymous), in-place files, nginx X-Accel-Redirect, /api/v1/stream/."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.logger import globalLogPublisher

from funkwhale.music.playback import files, respond
from funkwhale.music.visibility import Viewer
from funkwhale.users.accounts import listen_token

from .catalog_factories import insert_library, insert_listener, set_preference
from .conftest import start_server
from .federation_helpers import eventually
from .playback_helpers import add_playable, owner_with_library, probe, raw_request, session


@pytest_twisted.ensureDeferred
async def test_full_file_ranges_and_head(server, db_conn, settings):
    user, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "flac")
    original = song.path.read_bytes()
    size = len(original)
    client, auth = server.client(), session(db_conn, user)

    full = await client.get(song.url, headers=auth)
    assert full.code == 200
    assert full.body == original
    assert full.header("Content-Type") == "audio/flac"
    assert full.header("Accept-Ranges") == "bytes"
    assert full.header("ETag") and full.header("Last-Modified")

    for spec, start, end in (
        ("bytes=0-99", 0, 99),
        ("bytes=1000-1999", 1000, 1999),
        ("bytes=-100", size - 100, size - 1),
        ("bytes=500-", 500, size - 1),
        (f"bytes=10-{size + 5000}", 10, size - 1),
    ):
        part = await client.get(song.url, headers={**auth, "Range": spec})
        assert part.code == 206, spec
        assert part.body == original[start : end + 1], spec
        assert part.header("Content-Range") == f"bytes {start}-{end}/{size}"

    beyond = await client.get(song.url, headers={**auth, "Range": f"bytes={size}-"})
    assert beyond.code == 416
    assert beyond.header("Content-Range") == f"bytes */{size}"
    assert beyond.body == b""

    several = await client.get(song.url, headers={**auth, "Range": "bytes=0-9,20-29"})
    assert several.code == 200 and several.body == original

    stale = await client.get(song.url, headers={**auth, "Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.code == 200 and stale.body == original
    fresh = await client.get(song.url, headers={**auth, "Range": "bytes=0-9", "If-Range": full.header("ETag")})
    assert fresh.code == 206 and fresh.body == original[:10]

    head = await raw_request(server.base, "HEAD", song.url, auth)
    assert head.status == 200
    assert head.body == b""
    assert head.headers["content-length"] == str(size)
    assert head.headers["content-type"] == "audio/flac"
    middle = await raw_request(server.base, "GET", song.url, {**auth, "Range": "bytes=1000-1999"})
    assert middle.headers["content-length"] == "1000" and middle.body == original[1000:2000]


@pytest_twisted.ensureDeferred
async def test_content_type_of_each_format(server, db_conn, settings):
    user, library = owner_with_library(db_conn, "alice")
    auth, client = session(db_conn, user), server.client()
    expected = {"mp3": "audio/mpeg", "ogg": "audio/ogg", "opus": "audio/opus", "flac": "audio/flac",
                "m4a": "audio/mp4", "wav": "audio/wav", "aiff": "audio/aiff"}  # fmt: skip
    for fmt, mimetype in expected.items():
        song = add_playable(db_conn, settings, library, fmt, title=f"Song {fmt}")
        response = await client.get(song.url, headers={**auth, "Range": "bytes=0-15"})
        assert (response.code, response.header("Content-Type")) == (206, mimetype), fmt
        assert response.body == song.path.read_bytes()[:16]


@pytest_twisted.ensureDeferred
async def test_download_names_the_file(server, db_conn, settings, tmp_path):
    user, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "mp3", title="Norðurljós / Live")
    auth, client = session(db_conn, user), server.client()

    download = await client.get(song.url, headers=auth)
    assert download.header("Content-Disposition") == (
        "attachment; filename*=UTF-8''Nor%C3%B0urlj%C3%B3s%20-%20Live%20-%20Album%20-%20Artist.mp3"
    )
    inline = await client.get(song.url, headers=auth, params={"download": "false"})
    assert inline.code == 200 and inline.header("Content-Disposition") is None

    stream = await client.get(f"/api/v1/stream/{song.track['uuid']}", headers=auth)
    assert stream.code == 200
    assert stream.header("Content-Type") == "audio/mpeg"
    assert stream.header("Content-Disposition") is None
    assert probe(stream.body, tmp_path)[0] == "mp3"


@pytest_twisted.ensureDeferred
async def test_who_may_listen(server, db_conn, settings):
    alice, private = owner_with_library(db_conn, "alice", "me")
    shared = insert_library(db_conn, alice, "instance", name="shared")
    public = insert_library(db_conn, alice, "everyone", name="public")
    bob = insert_listener(db_conn, "bob")
    mine = add_playable(db_conn, settings, private, "mp3", title="Private")
    ours = add_playable(db_conn, settings, shared, "mp3", title="Shared")
    everyone = add_playable(db_conn, settings, public, "mp3", title="Public")
    client, as_bob = server.client(), session(db_conn, bob)

    assert (await client.get(mine.url, headers=as_bob)).code == 404
    assert (await client.get(mine.url, headers=session(db_conn, alice))).code == 200
    assert (await client.get(ours.url, headers=as_bob)).code == 200
    assert (await client.get(f"/api/v1/listen/{uuid.uuid4()}/", headers=as_bob)).code == 404
    assert (await client.get("/api/v1/listen/not-a-uuid/", headers=as_bob)).code == 404
    # an upload of another track, or one bob may not play, is not found
    wrong = await client.get(ours.url, headers=as_bob, params={"upload": str(mine.upload["uuid"])})
    assert wrong.code == 404
    named = await client.get(ours.url, headers=as_bob, params={"upload": str(ours.upload["uuid"])})
    assert named.code == 200

    assert (await client.get(everyone.url)).code == 401
    set_preference(db_conn, "common__api_authentication_required", False)
    assert (await client.get(everyone.url)).code == 200
    assert (await client.get(ours.url)).code == 404
    assert (await client.get(mine.url)).code == 404


@pytest_twisted.ensureDeferred
async def test_listen_token(server, db_conn, settings):
    alice, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "ogg")
    client = server.client()
    token = listen_token(server.ctx.settings, alice["id"], alice["secret_key"])

    played = await client.get(song.url, params={"token": token})
    assert played.code == 200 and played.body == song.path.read_bytes()
    assert (await client.get(song.url, params={"token": token + "x"})).code == 401
    bob = insert_listener(db_conn, "bob")
    bobs = listen_token(server.ctx.settings, bob["id"], bob["secret_key"])
    assert (await client.get(song.url, params={"token": bobs})).code == 404

    with db_conn.cursor() as cur:  # what a password change does
        cur.execute("UPDATE users SET secret_key = gen_random_uuid() WHERE id = %s", (alice["id"],))
    assert (await client.get(song.url, params={"token": token})).code == 401


@pytest_twisted.ensureDeferred
async def test_in_place_file_and_missing_file(server, db_conn, settings):
    user, library = owner_with_library(db_conn, "alice")
    in_place = add_playable(db_conn, settings, library, "opus", in_place=True)
    auth, client = session(db_conn, user), server.client()
    response = await client.get(in_place.url, headers={**auth, "Range": "bytes=-50"})
    assert response.code == 206
    assert response.body == in_place.path.read_bytes()[-50:]
    assert response.header("Content-Type") == "audio/opus"

    in_place.path.unlink()
    missing = await client.get(in_place.url, headers=auth)
    assert missing.code == 404 and missing.json["code"] == "file_missing"


@pytest_twisted.ensureDeferred
async def test_nginx_gets_x_accel_redirect(db_conn, settings):
    running = await start_server(dataclasses.replace(settings, reverse_proxy="nginx", role="web"))
    try:
        user, library = owner_with_library(db_conn, "alice")
        song = add_playable(db_conn, settings, library, "flac", title="Song Ü")
        response = await running.client().get(song.url, headers=session(db_conn, user))
        assert response.code == 200
        assert response.body == b""
        assert response.header("X-Accel-Redirect") == f"/_protected/media/{song.upload['audio_file']}"
        assert response.header("Content-Type") == "audio/flac"
        assert response.header("Content-Disposition") == (
            "attachment; filename*=UTF-8''Song%20%C3%9C%20-%20Album%20-%20Artist.flac"
        )
    finally:
        await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_nginx_sends_in_place_files_of_the_music_folder(db_conn, settings):
    music = Path(settings.data_dir) / "music"
    nginx = dataclasses.replace(settings, reverse_proxy="nginx", role="web", music_directories=(str(music),))
    running = await start_server(nginx)
    try:
        user, library = owner_with_library(db_conn, "alice")
        song = add_playable(db_conn, settings, library, "ogg", in_place=True)
        response = await running.client().get(song.url, headers=session(db_conn, user))
        assert response.code == 200 and response.body == b""
        assert response.header("X-Accel-Redirect") == f"/_protected/music/{song.path.name}"
    finally:
        await running.service.stopService()

    elsewhere = await start_server(dataclasses.replace(nginx, music_directories=()))
    try:  # a file nginx has no location for: the daemon sends it itself
        response = await elsewhere.client().get(song.url, headers=session(db_conn, user))
        assert response.code == 200 and response.body == song.path.read_bytes()
    finally:
        await elsewhere.service.stopService()


@pytest_twisted.ensureDeferred
async def test_find_by_track_id_for_other_surfaces(server, db_conn, settings):
    alice, library = owner_with_library(db_conn, "alice")
    bob = insert_listener(db_conn, "bob")
    song = add_playable(db_conn, settings, library, "flac")
    upload, source, needed = await respond.find(server.ctx, Viewer(alice["id"], alice["actor_id"]), song.track["id"])
    assert (upload["uuid"], source.path, needed) == (song.upload["uuid"], song.path, None)
    upload, _, needed = await respond.find(
        server.ctx, Viewer(alice["id"], alice["actor_id"]), song.track["id"], to="mp3"
    )
    assert (needed.output.mimetype, needed.bitrate) == ("audio/mpeg", 320)
    with pytest.raises(respond.NothingPlayable):
        await respond.find(server.ctx, Viewer(bob["id"], bob["actor_id"]), song.track["id"])


def downloads_count(conn, track: dict) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT downloads_count FROM track WHERE id = %s", (track["id"],))
        return cur.fetchone()["downloads_count"]


@pytest_twisted.ensureDeferred
async def test_plays_count_once_per_listener(server, db_conn, settings):
    alice, library = owner_with_library(db_conn, "alice", "everyone")
    bob = insert_listener(db_conn, "bob")
    song = add_playable(db_conn, settings, library, "mp3")
    client = server.client()
    for headers in (session(db_conn, alice), {"Range": "bytes=0-9", **session(db_conn, alice)}):
        assert (await client.get(song.url, headers=headers)).code in (200, 206)
    assert downloads_count(db_conn, song.track) == 1
    assert (await client.get(song.url, headers=session(db_conn, bob))).code == 200
    assert downloads_count(db_conn, song.track) == 2
    set_preference(db_conn, "common__api_authentication_required", False)
    for _ in range(2):
        assert (await client.get(song.url)).code == 200
    assert downloads_count(db_conn, song.track) == 3


class _SlowToClose:
    """A served file whose close waits for `released` (in the I/O pool, where the server closes files)."""

    def __init__(self, fh: Any, released: threading.Event) -> None:
        self._fh, self._released = fh, released

    def fileno(self) -> int:
        return self._fh.fileno()

    def close(self) -> None:
        self._released.wait(10)
        self._fh.close()


@pytest_twisted.ensureDeferred
async def test_an_answer_ends_and_is_logged_with_its_last_byte(server, db_conn, settings, monkeypatch):
    """The file is closed after the answer, which does not wait for it: a client that has every byte may hang up
    at once (a peer fetching a track to cache it), and its answer is still finished and logged."""
    user, library = owner_with_library(db_conn, "alice")
    song = add_playable(db_conn, settings, library, "mp3")
    released = threading.Event()
    opened = files._open
    monkeypatch.setattr(
        files, "_open", lambda path: (lambda fh, stat: (_SlowToClose(fh, released), stat))(*opened(path))
    )
    logged: list[int] = []

    def observe(event: dict[str, Any]) -> None:
        if event.get("log_namespace") == "funkwhale.access" and song.url in event.get("uri", ""):
            logged.append(event["status"])

    globalLogPublisher.addObserver(observe)
    try:
        answer = await server.client().get(song.url, headers=session(db_conn, user))
        assert answer.code == 200 and answer.body == song.path.read_bytes()
        await eventually(lambda: logged, within=3, what="the answer logged while its file is still being closed")
        assert logged == [200]
    finally:
        released.set()
        globalLogPublisher.removeObserver(observe)
