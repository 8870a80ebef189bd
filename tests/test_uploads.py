"""/api/v1/uploads/ over HTTP: multipart uploads streamed to disk and queued for import, the quota, bad input
(nothing kept), the owner's list with filters, delete, and the bulk actions.

Most tests run the web role only, so uploads stay as the API left them; the first one has a worker import them."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from psycopg2.extras import Json
from twisted.internet.task import deferLater

from funkwhale.music.uploads import PROCESS_UPLOAD

from . import catalog_factories as cf
from .audio import make_audio
from .client import ApiClient
from .conftest import start_server
from .test_libraries import Session, count_rows, media_file

BOUNDARY = "----fw-test-boundary-7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def form_parts(
    fields: dict[str, str], file_field: str | None = None, filename: str = "song.mp3"
) -> tuple[bytes, bytes]:
    """(the body up to the file's content, the body after it) of a multipart form."""
    head = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    if file_field is None:
        return head + f"--{BOUNDARY}--\r\n".encode(), b""
    head += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        "Content-Type: audio/mpeg\r\n\r\n"
    ).encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


def form(fields: dict[str, str], data: bytes | None = None, file_field: str = "audio_file", **kw: Any) -> bytes:
    head, tail = form_parts(fields, None if data is None else file_field, **kw)
    return head + (data or b"") + tail


async def upload(session: Session, body: bytes | Any) -> Any:
    return await session.post("/api/v1/uploads/", data=body, headers={"Content-Type": CONTENT_TYPE})


def upload_row(conn: Any, upload_uuid: str) -> dict[str, Any]:
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM upload WHERE uuid = %s", (upload_uuid,))
        return cur.fetchone()


def task_rows(conn: Any) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute("SELECT name, args, status FROM task ORDER BY creation_date, id")
        return cur.fetchall()


def files_under(settings: Any, kind: str) -> list[Path]:
    root = Path(settings.media_path) / kind
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def library(db_conn, alice):
    return cf.insert_library(db_conn, alice, "me", name="music")


async def settled(session: Session, upload_uuid: str, clock: Any) -> dict[str, Any]:
    """The upload once its import has ended (the test's timeout bounds the wait)."""
    while True:
        resp = await session.get(f"/api/v1/uploads/{upload_uuid}/")
        assert resp.code == 200, resp
        if resp.json["import_status"] != "pending":
            return resp.json
        await deferLater(clock, 0.1, lambda: None)


@pytest_twisted.ensureDeferred
async def test_uploads_are_imported_by_the_worker(server, db_conn, alice, library, tmp_path):
    me = Session(server, db_conn, alice)
    song = make_audio(tmp_path, "song", "ogg", title="Norðurljós", artist="Björk Quartet", album="Ljós")
    resp = await upload(me, form({"library": str(library["uuid"])}, song.read_bytes(), filename="song.ogg"))
    assert resp.code == 201, resp
    good = await settled(me, resp.json["uuid"], server.ctx.clock)
    assert good["import_status"] == "finished", good
    assert good["track"]["title"] == "Norðurljós" and good["track"]["artist"]["name"] == "Björk Quartet"
    assert good["track"]["album"]["title"] == "Ljós" and good["duration"] and good["bitrate"]

    resp = await upload(me, form({"library": str(library["uuid"])}, b"\x00garbage" * 5000, filename="bad.mp3"))
    assert resp.code == 201, resp
    bad = await settled(me, resp.json["uuid"], server.ctx.clock)
    assert bad["import_status"] == "errored" and bad["import_details"]["error_code"], bad
    assert bad["track"] is None

    resp = await me.get(f"/api/v1/libraries/{library['uuid']}/")
    assert resp.json["uploads_count"] == 2 and resp.json["size"] == good["size"], resp


@pytest_twisted.ensureDeferred
async def test_upload_is_stored_and_queued(web_server, db_conn, settings, alice, library, tmp_path):
    audio = make_audio(tmp_path, "song", "mp3", title="Song", artist="Artist", album="Album")
    data = audio.read_bytes()
    me = Session(web_server, db_conn, alice)
    metadata = {"title": "Forced title"}
    body = form(
        {"library": str(library["uuid"]), "import_reference": "batch-1", "import_metadata": json.dumps(metadata)},
        data,
        filename="Mon morceau.mp3",
    )

    resp = await upload(me, body)
    assert resp.code == 201, resp
    up = resp.json
    assert up["filename"] == "Mon morceau.mp3" and up["mimetype"] == "audio/mpeg" and up["size"] == len(data)
    assert up["import_status"] == "pending" and up["import_reference"] == "batch-1"
    assert up["import_metadata"] == metadata and up["import_details"] == {} and up["track"] is None
    assert up["source"] == "upload://Mon morceau.mp3" and up["creation_date"]
    assert up["library"]["uuid"] == str(library["uuid"]) and up["library"]["name"] == "music"

    row = upload_row(db_conn, up["uuid"])
    assert row["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert row["fid"] == f"http://test.funkwhale.local/federation/music/uploads/{up['uuid']}"
    assert re.fullmatch(r"tracks/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{32}\.mp3", row["audio_file"]), row["audio_file"]
    stored = Path(settings.media_path) / row["audio_file"]
    assert stored.read_bytes() == data
    assert task_rows(db_conn) == [{"name": PROCESS_UPLOAD, "args": [row["id"]], "status": "pending"}]
    assert files_under(settings, "incoming") == [] and files_under(settings, "tracks") == [stored]

    resp = await me.get(f"/api/v1/uploads/{up['uuid']}/")
    assert resp.code == 200 and resp.json == up, resp

    # without a reference, one is generated (as Funkwhale does); a 0-byte file is accepted (the importer
    # marks it errored: empty_file)
    resp = await upload(me, form({"library": str(library["uuid"])}, b"", filename="empty.flac"))
    assert resp.code == 201, resp
    assert resp.json["size"] == 0 and resp.json["mimetype"] == "audio/flac" and resp.json["import_reference"]
    assert len(task_rows(db_conn)) == 2


@pytest_twisted.ensureDeferred
async def test_drafts_are_queued_once_published(web_server, db_conn, alice, library):
    me = Session(web_server, db_conn, alice)
    drafts = []
    for name in ("one.mp3", "two.mp3"):
        body = form({"library": str(library["uuid"]), "import_status": "draft"}, b"ID3 bytes", filename=name)
        resp = await upload(me, body)
        assert resp.code == 201 and resp.json["import_status"] == "draft", resp
        drafts.append(resp.json["uuid"])
    assert task_rows(db_conn) == []

    url = f"/api/v1/uploads/{drafts[0]}/"
    resp = await me.patch(url, json_body={"import_metadata": {"title": "Better"}, "import_reference": "r2"})
    assert resp.code == 200, resp
    assert resp.json["import_metadata"] == {"title": "Better"} and resp.json["import_reference"] == "r2"
    assert resp.json["import_status"] == "draft" and task_rows(db_conn) == []
    resp = await me.patch(url, json_body={"import_metadata": "[]"})
    assert resp.code == 400 and resp.json["import_metadata"] == ["Expected a JSON object."], resp
    resp = await me.patch(url, json_body={"import_status": "pending"})
    assert resp.code == 200 and resp.json["import_status"] == "pending", resp
    first = upload_row(db_conn, drafts[0])
    assert task_rows(db_conn) == [{"name": PROCESS_UPLOAD, "args": [first["id"]], "status": "pending"}]
    resp = await me.patch(url, json_body={"import_metadata": {"title": "Too late"}})
    assert resp.code == 400 and resp.json["import_status"] == ["Only a draft upload can be changed."], resp

    resp = await me.post("/api/v1/uploads/action/", json_body={"action": "publish", "objects": "all"})
    assert resp.code == 200 and resp.json == {"action": "publish", "updated": 1, "result": None}, resp
    second = upload_row(db_conn, drafts[1])
    assert second["import_status"] == "pending"
    assert [t["args"] for t in task_rows(db_conn)] == [[first["id"]], [second["id"]]]


@pytest_twisted.ensureDeferred
async def test_bad_uploads_keep_nothing(web_server, db_conn, settings, alice, bob, library):
    theirs = cf.insert_library(db_conn, bob, "everyone")
    me = Session(web_server, db_conn, alice)
    lib = str(library["uuid"])
    cases = [
        (form({"library": lib}), "audio_file", "No file was submitted."),
        (form({"library": lib}, b"data", file_field="file"), "audio_file", "No file was submitted."),
        (form({}, b"data"), "library", "This field is required."),
        (form({"library": "nope"}, b"data"), "library", "Object not found."),
        (form({"library": str(theirs["uuid"])}, b"data"), "library", "Object not found."),
        (form({"library": str(uuid.uuid4())}, b"data"), "library", "Object not found."),
        (form({"library": lib, "import_metadata": "{bad"}, b"data"), "import_metadata", "Value must be valid JSON."),
        (form({"library": lib, "import_metadata": "[1]"}, b"data"), "import_metadata", "Expected a JSON object."),
        (form({"library": lib, "import_status": "finished"}, b"data"), "import_status",
         '"finished" is not a valid choice.'),
        (form({"library": lib, "import_reference": "r" * 51}, b"data"), "import_reference",
         "Ensure this field has no more than 50 characters."),
        (form({"library": lib, "source": "file:///etc/passwd"}, b"data"), "source",
         "file:// sources are only for server-side imports."),
        (form({"library": lib}, b"data" * 100_000)[:-200], "non_field_errors", None),  # truncated body
    ]  # fmt: skip
    for body, field, message in cases:
        resp = await upload(me, body)
        assert resp.code == 400, (field, resp)
        assert field in resp.json, resp
        if message:
            assert resp.json[field] == [message], resp

    resp = await me.post("/api/v1/uploads/", json_body={"library": lib})
    assert resp.code == 400 and "audio_file" in resp.json, resp
    resp = await ApiClient(web_server.base).post(
        "/api/v1/uploads/", data=form({"library": lib}, b"data"), headers={"Content-Type": CONTENT_TYPE}
    )
    assert resp.code == 401, resp

    assert count_rows(db_conn, "upload") == 0 and task_rows(db_conn) == []
    assert files_under(settings, "incoming") == [] and files_under(settings, "tracks") == []


@pytest_twisted.ensureDeferred
async def test_quota(web_server, db_conn, settings, alice, library):
    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET upload_quota = 1 WHERE id = %s", (alice["id"],))  # 1 MB
    cf.insert_upload(db_conn, library, None, import_status="errored", size=5_000_000)  # errored: not counted
    me = Session(web_server, db_conn, alice)
    lib = str(library["uuid"])

    resp = await upload(me, form({"library": lib}, b"a" * 600_000))
    assert resp.code == 201, resp
    resp = await upload(me, form({"library": lib}, b"b" * 600_000))
    assert resp.code == 400, resp
    assert resp.json["non_field_errors"] == ["upload_quota_reached"] and resp.json["code"] == "upload_quota_reached"
    assert count_rows(db_conn, "upload") == 2 and len(task_rows(db_conn)) == 1
    assert len(files_under(settings, "tracks")) == 1 and files_under(settings, "incoming") == []

    resp = await me.get("/api/v1/users/me/")
    assert resp.code == 200, resp
    assert resp.json["quota_status"] == {
        "max": 1,
        "remaining": pytest.approx(0.4),
        "current": pytest.approx(0.6),
        "draft": 0,
        "skipped": 0,
        "pending": pytest.approx(0.6),
        "finished": 0,
        "errored": 5,
    }

    # without a per-user quota, the instance default applies (the users__upload_quota preference)
    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET upload_quota = NULL WHERE id = %s", (alice["id"],))
    cf.set_preference(db_conn, "users__upload_quota", 2)
    resp = await upload(me, form({"library": lib}, b"c" * 600_000))
    assert resp.code == 201, resp
    resp = await upload(me, form({"library": lib}, b"d" * 900_000))
    assert resp.code == 400 and resp.json["code"] == "upload_quota_reached", resp
    resp = await me.get("/api/v1/users/me/")
    assert resp.json["quota_status"]["max"] == 2 and resp.json["quota_status"]["current"] == pytest.approx(1.2)


@pytest_twisted.async_yield_fixture
async def small_server(settings):
    running = await start_server(dataclasses.replace(settings, role="web", upload_max_size=200_000))
    yield running
    await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_body_over_the_limit_is_refused(small_server, db_conn, settings, alice, library):
    me = Session(small_server, db_conn, alice)
    resp = await upload(me, form({"library": str(library["uuid"])}, b"x" * 150_000))
    assert resp.code == 201, resp
    try:
        resp = await upload(me, form({"library": str(library["uuid"])}, b"x" * 300_000))
    except Exception:  # the server may close the connection before the client has sent the whole body
        resp = None
    assert resp is None or resp.code == 413, resp
    assert count_rows(db_conn, "upload") == 1 and files_under(settings, "incoming") == []


CLEAR_REFS = Path("/proc/self/clear_refs")


def _reset_peak_rss() -> int:
    """Reset the process's peak resident memory (VmHWM) to its current size; that size in bytes."""
    CLEAR_REFS.write_text("5")
    return _peak_rss()


def _peak_rss() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024


def _write_body(path: Path, head: bytes, tail: bytes, megabytes: int) -> str:
    """A multipart body whose file part has `megabytes` MiB of varied bytes; the sha256 of those."""
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        fh.write(head)
        for i in range(megabytes):
            block = bytes([i % 251]) * (1024 * 1024)
            fh.write(block)
            digest.update(block)
        fh.write(tail)
    return digest.hexdigest()


@pytest.mark.skipif(not CLEAR_REFS.exists(), reason="needs Linux /proc to measure the peak resident memory")
@pytest_twisted.ensureDeferred
async def test_large_upload_is_streamed(web_server, db_conn, settings, alice, library, tmp_path):
    """A 30 MB body goes through without the process ever holding it in memory."""
    size = 30 * 1024 * 1024
    head, tail = form_parts({"library": str(library["uuid"])}, "audio_file", filename="long.flac")
    body_path = tmp_path / "body"
    sha256 = _write_body(body_path, head, tail, size // (1024 * 1024))
    me = Session(web_server, db_conn, alice)
    await me.get("/api/v1/uploads/")  # warm up the server's code paths

    before = _reset_peak_rss()
    with body_path.open("rb") as fh:
        resp = await upload(me, fh)
    growth = _peak_rss() - before
    assert resp.code == 201, resp
    assert growth < size / 3, f"peak memory grew by {growth / 1e6:.1f} MB for a {size / 1e6:.0f} MB body"
    row = upload_row(db_conn, resp.json["uuid"])
    assert row["size"] == size and row["checksum"] == "sha256:" + sha256
    assert (Path(settings.media_path) / row["audio_file"]).stat().st_size == size
    assert files_under(settings, "incoming") == []


@pytest_twisted.ensureDeferred
async def test_list_filters_and_ordering(web_server, db_conn, alice, bob, library):
    other_lib = cf.insert_library(db_conn, alice, "everyone", name="other")
    bobs = cf.insert_library(db_conn, bob, "everyone")
    artist = cf.insert_artist(db_conn, "Björk")
    album = cf.insert_album(db_conn, artist, "Homogenic")
    track = cf.insert_track(db_conn, artist, "Jóga", album)
    ups = [
        cf.insert_upload(db_conn, library, track, original_name="joga.flac", import_reference="a", size=10),
        cf.insert_upload(db_conn, library, None, "pending", original_name="b.mp3", import_reference="a", size=30),
        cf.insert_upload(db_conn, library, None, "errored", original_name="c.mp3", import_reference="b", size=20),
        cf.insert_upload(db_conn, other_lib, None, "skipped", original_name="d.ogg", size=40),
    ]
    cf.insert_upload(db_conn, bobs, track, original_name="bob.mp3")
    me = Session(web_server, db_conn, alice)

    async def names(**params: Any) -> list[str]:
        resp = await me.get("/api/v1/uploads/", params=params)
        assert resp.code == 200, resp
        assert resp.json["count"] == len(resp.json["results"]), resp
        return [r["filename"] for r in resp.json["results"]]

    assert await names() == ["d.ogg", "c.mp3", "b.mp3", "joga.flac"]  # -creation_date
    assert await names(ordering="creation_date") == ["joga.flac", "b.mp3", "c.mp3", "d.ogg"]
    assert await names(ordering="-size") == ["d.ogg", "b.mp3", "c.mp3", "joga.flac"]
    assert await names(library=str(other_lib["uuid"])) == ["d.ogg"]
    assert await names(import_status=["pending", "errored"]) == ["c.mp3", "b.mp3"]
    assert await names(import_reference="a") == ["b.mp3", "joga.flac"]
    assert await names(track=track["id"]) == ["joga.flac"]
    assert await names(q="JOGA") == ["joga.flac"]
    assert await names(q="bjo") == []  # the artist is not searched, only file names and titles
    assert await names(q="Jóga") == ["joga.flac"]
    assert await names(playable="true") == ["joga.flac"]
    assert await names(playable="false") == ["d.ogg", "c.mp3", "b.mp3"]

    resp = await me.get("/api/v1/uploads/", params={"page_size": 3})
    assert resp.json["count"] == 4 and len(resp.json["results"]) == 3 and resp.json["next"], resp
    resp = await me.get("/api/v1/uploads/", params={"track": track["id"]})
    found = resp.json["results"][0]
    # the track as the catalog shows it, and the library with its owner, as Funkwhale 1.4 nests them
    assert (found["track"]["id"], found["track"]["title"], found["track"]["is_local"]) == (track["id"], "Jóga", True)
    assert found["track"]["artist"]["name"] == "Björk" and found["track"]["album"]["title"] == "Homogenic"
    assert found["track"]["listen_url"] == f"/api/v1/listen/{track['uuid']}/"
    assert found["library"]["actor"]["preferred_username"] == "alice" and found["library"]["uploads_count"] == 3
    for params in ({"import_status": "done"}, {"library": "x"}, {"track": "one"}):
        resp = await me.get("/api/v1/uploads/", params=params)
        assert resp.code == 400, (params, resp)
    # an ordering field the list does not have is ignored, as DRF's OrderingFilter does: the newest first
    newest = await me.get("/api/v1/uploads/")
    assert (await me.get("/api/v1/uploads/", params={"ordering": "title"})).json == newest.json

    # another user's upload is not there
    resp = await Session(web_server, db_conn, bob).get(f"/api/v1/uploads/{ups[0]['uuid']}/")
    assert resp.code == 404, resp


@pytest_twisted.ensureDeferred
async def test_delete(web_server, db_conn, settings, alice, bob, library):
    path = media_file(settings, "tracks/aa/bb/mine.mp3")
    up = cf.insert_upload(db_conn, library, None, audio_file="tracks/aa/bb/mine.mp3")
    me, other = Session(web_server, db_conn, alice), Session(web_server, db_conn, bob)

    resp = await other.delete(f"/api/v1/uploads/{up['uuid']}/")
    assert resp.code == 404 and path.exists(), resp
    resp = await me.delete(f"/api/v1/uploads/{up['uuid']}/")
    assert resp.code == 204, resp
    assert not path.exists() and count_rows(db_conn, "upload") == 0
    resp = await me.get(f"/api/v1/uploads/{up['uuid']}/")
    assert resp.code == 404, resp


@pytest_twisted.ensureDeferred
async def test_actions(web_server, db_conn, settings, alice, bob, library):
    errored = cf.insert_upload(db_conn, library, None, "errored", import_details=Json({"error_code": "x"}))
    skipped = cf.insert_upload(db_conn, library, None, "skipped")
    finished = cf.insert_upload(db_conn, library, None, "finished")
    bobs = cf.insert_upload(db_conn, cf.insert_library(db_conn, bob, "me"), None, "errored")
    me = Session(web_server, db_conn, alice)

    resp = await me.post(
        "/api/v1/uploads/action/",
        json_body={"action": "relaunch_import", "objects": [str(u["uuid"]) for u in (errored, finished, bobs)]},
    )
    assert resp.code == 200 and resp.json["updated"] == 1, resp
    assert upload_row(db_conn, errored["uuid"])["import_status"] == "pending"
    assert upload_row(db_conn, errored["uuid"])["import_details"] == {}
    assert upload_row(db_conn, finished["uuid"])["import_status"] == "finished"
    assert upload_row(db_conn, bobs["uuid"])["import_status"] == "errored"
    resp = await me.post("/api/v1/uploads/action/", json_body={"action": "relaunch_import", "objects": "all"})
    assert resp.json["updated"] == 2, resp  # the one pending now, and the skipped one
    assert sorted(t["args"][0] for t in task_rows(db_conn)) == sorted([errored["id"], errored["id"], skipped["id"]])

    for body in ({"action": "explode", "objects": "all"}, {"action": "delete"}, {"action": "delete", "objects": ["x"]}):
        resp = await me.post("/api/v1/uploads/action/", json_body=body)
        assert resp.code == 400, (body, resp)

    path = media_file(settings, "tracks/ee/ff/file.mp3")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE upload SET audio_file = %s WHERE id = %s", ("tracks/ee/ff/file.mp3", finished["id"]))
    resp = await me.post("/api/v1/uploads/action/", json_body={"action": "delete", "objects": "all"})
    assert resp.code == 200 and resp.json == {"action": "delete", "updated": 3, "result": None}, resp
    assert not path.exists() and count_rows(db_conn, "upload") == 1  # bob's is left
