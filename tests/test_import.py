"""The import pipeline on real files of every format: rows made once, duplicates skipped, broken files errored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pytest_twisted
from psycopg2.extras import Json
from twisted.internet.defer import Deferred, gatherResults

from funkwhale import storage
from funkwhale.music.importer.pipeline import process_upload, process_uploads
from funkwhale.tasks.queue import enqueue
from funkwhale.tasks.waiting import within

from . import audio
from .catalog_factories import insert_library, insert_listener, insert_upload


def _add(ctx, conn, library, source: Path, **fields):
    """An upload row (pending) whose media file is a copy of `source`."""
    name = storage.new_name(storage.TRACKS, source.suffix)
    target = storage.absolute(ctx.settings, name)
    storage.ensure_parent(target)
    shutil.copyfile(source, target)
    return insert_upload(conn, library, None, import_status="pending", audio_file=name, **fields)


def _one(conn, sql, *params):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def _count(conn, table):
    return _one(conn, f"SELECT count(*) AS n FROM {table}")["n"]


@pytest.fixture
def owner(db_conn):
    user = insert_listener(db_conn, "alice")
    return user, insert_library(db_conn, user)


@pytest.mark.parametrize("fmt", audio.FORMATS)
@pytest_twisted.ensureDeferred
async def test_each_format_becomes_artist_album_track(fmt, web_server, db_conn, owner, tmp_path):
    _, library = owner
    cover = audio.make_cover("blue")
    path = audio.make_audio(
        tmp_path,
        "song",
        fmt,
        title="Hafið",
        artist="Björk Quartet",
        album="Frozen Lakes",
        track="2/3",
        disc="1/1",
        date="2019-05-01",
        genre="Ambient; Electronic",
        cover=cover,
        lyrics="la la la",
    )
    upload = _add(web_server.ctx, db_conn, library, path)
    assert await process_upload(web_server.ctx, upload["id"]) == "finished"
    row = _one(
        db_conn,
        """SELECT u.import_status, u.duration, u.mimetype, u.metadata, t.title, t.position, t.disc_number,
                  a.name AS artist, al.title AS album, al.release_date, u.attachment_cover_id,
                  (SELECT array_agg(g.name ORDER BY g.name) FROM tagged_item ti JOIN tag g ON g.id = ti.tag_id
                   WHERE ti.object_type = 'track' AND ti.object_id = t.id) AS tags
           FROM upload u JOIN track t ON t.id = u.track_id JOIN artist a ON a.id = t.artist_id
           JOIN album al ON al.id = t.album_id WHERE u.id = %s""",
        upload["id"],
    )
    assert (row["title"], row["artist"], row["album"]) == ("Hafið", "Björk Quartet", "Frozen Lakes")
    assert row["position"] == 2 and row["duration"] == 2
    assert row["tags"] == ["Ambient", "Electronic"]
    if fmt not in ("wav", "aiff"):
        assert row["disc_number"] == 1 and str(row["release_date"]) == "2019-05-01"
        assert row["attachment_cover_id"] is not None
        assert row["metadata"]["lyrics"] == "la la la"


@pytest_twisted.ensureDeferred
async def test_ogg_with_theora_video_imports_its_vorbis_audio_and_comments(web_server, db_conn, owner, tmp_path):
    _, library = owner
    mbid = "bd21ac48-46d8-4e78-925f-d9cc2a294656"
    tags = {"title": "Morning", "artist": "Edvard Grieg", "album": "Peer Gynt", "tracknumber": "1",
            "date": "2012-08-15", "genre": "Classical", "musicbrainz_trackid": mbid}  # fmt: skip
    upload = _add(web_server.ctx, db_conn, library, audio.make_theora(tmp_path, "video", tags))
    assert await process_upload(web_server.ctx, upload["id"]) == "finished"
    row = _one(
        db_conn,
        """SELECT u.duration, u.mimetype, u.sample_rate, t.title, t.position, t.mbid, a.name AS artist,
                  al.title AS album, al.release_date
           FROM upload u JOIN track t ON t.id = u.track_id JOIN artist a ON a.id = t.artist_id
           JOIN album al ON al.id = t.album_id WHERE u.id = %s""",
        upload["id"],
    )
    assert (row["title"], row["artist"], row["album"]) == ("Morning", "Edvard Grieg", "Peer Gynt")
    assert row["position"] == 1 and str(row["mbid"]) == mbid and str(row["release_date"]) == "2012-08-15"
    assert row["mimetype"] == "audio/ogg" and row["duration"] == 2 and row["sample_rate"] == 44100


@pytest_twisted.ensureDeferred
async def test_reimport_never_duplicates_and_a_second_copy_is_skipped(web_server, db_conn, owner, tmp_path):
    _, library = owner
    other = insert_library(db_conn, owner[0], name="second")
    files = [
        audio.make_audio(
            tmp_path, f"t{n}", "mp3", title=f"Song {n}", artist="The Night Owls", album="Midnight Drive", track=str(n)
        )
        for n in (1, 2)
    ]
    first = [_add(web_server.ctx, db_conn, library, f) for f in files]
    for up in first:
        assert await process_upload(web_server.ctx, up["id"]) == "finished"
    again = _add(web_server.ctx, db_conn, other, files[0])
    assert await process_upload(web_server.ctx, again["id"]) == "skipped"
    details = _one(db_conn, "SELECT import_details FROM upload WHERE id = %s", again["id"])["import_details"]
    assert details == {"code": "already_imported_in_owned_libraries", "duplicates": [str(first[0]["uuid"])]}
    assert (_count(db_conn, "artist"), _count(db_conn, "album"), _count(db_conn, "track")) == (1, 1, 2)
    assert await process_upload(web_server.ctx, again["id"]) is None  # done already: idempotent


@pytest_twisted.ensureDeferred
async def test_a_compilation_makes_one_album_and_non_latin_names_survive(web_server, db_conn, owner, tmp_path):
    _, library = owner
    for n, artist in enumerate(["坂本 Trio", "Чайковский", "Björk"], 1):
        path = audio.make_audio(
            tmp_path,
            f"c{n}",
            "flac",
            title=f"曲 {n}",
            artist=artist,
            album_artist="Various Artists",
            album="東京の夜",
            track=str(n),
            disc="2",
        )
        assert await process_upload(web_server.ctx, _add(web_server.ctx, db_conn, library, path)["id"]) == "finished"
    assert _count(db_conn, "album") == 1
    names = {r["name"] for r in _all(db_conn, "SELECT name FROM artist")}
    assert names == {"坂本 Trio", "Чайковский", "Björk", "Various Artists"}


def _all(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


@pytest_twisted.ensureDeferred
async def test_broken_files_end_errored_with_a_code(web_server, db_conn, owner, tmp_path):
    _, library = owner
    cases = {
        "unsupported_format": audio.make_not_audio(tmp_path, "noise.mp3"),
        "empty_file": audio.make_empty(tmp_path, "empty.mp3"),
        "corrupt_file": audio.make_truncated(tmp_path, "flac"),
    }
    for code, path in cases.items():
        upload = _add(web_server.ctx, db_conn, library, path)
        assert await process_upload(web_server.ctx, upload["id"]) == "errored"
        details = _one(db_conn, "SELECT import_details FROM upload WHERE id = %s", upload["id"])["import_details"]
        assert details["error_code"] == code and details["detail"]
    huge = _add(web_server.ctx, db_conn, library, audio.make_huge_tag(tmp_path, "mp3"))
    assert await process_upload(web_server.ctx, huge["id"]) == "finished"


@pytest_twisted.ensureDeferred
async def test_the_worker_imports_what_is_enqueued_and_survives_a_bad_file(server, db_conn, owner, tmp_path):
    _, library = owner
    bad = _add(server.ctx, db_conn, library, audio.make_not_audio(tmp_path, "bad.mp3"))
    good = _add(server.ctx, db_conn, library, audio.make_audio(tmp_path, "ok", "ogg", title="Fine", artist="X"))
    await enqueue(server.ctx, "music.process_upload", bad["id"])
    await enqueue(server.ctx, "music.process_upload", good["id"])

    async def settled():
        from twisted.internet.task import deferLater

        while True:
            row = _one(db_conn, "SELECT count(*) AS n FROM upload WHERE import_status = 'pending'")
            if row["n"] == 0:
                return
            await deferLater(server.ctx.clock, 0.1, lambda: None)

    assert await within(Deferred.fromCoroutine(settled()), 20, server.ctx.clock)
    statuses = {r["id"]: r["import_status"] for r in _all(db_conn, "SELECT id, import_status FROM upload")}
    assert statuses == {bad["id"]: "errored", good["id"]: "finished"}


@pytest_twisted.ensureDeferred
async def test_two_discs_make_one_album_with_a_track_per_disc(web_server, db_conn, owner, tmp_path):
    _, library = owner
    for disc in (1, 2):
        path = audio.make_audio(
            tmp_path, f"d{disc}", "ogg", title="Intro", artist="Low Tide", album="Double", track="1", disc=f"{disc}/2"
        )
        assert await process_upload(web_server.ctx, _add(web_server.ctx, db_conn, library, path)["id"]) == "finished"
    rows = _all(db_conn, "SELECT t.disc_number, t.album_id FROM track t ORDER BY t.disc_number")
    assert [r["disc_number"] for r in rows] == [1, 2] and len({r["album_id"] for r in rows}) == 1


@pytest_twisted.ensureDeferred
async def test_concurrent_imports_of_a_new_album_create_it_once(web_server, db_conn, owner, tmp_path):
    _, library = owner
    uploads = []
    for n in range(8):
        path = audio.make_audio(
            tmp_path,
            f"p{n}",
            ["mp3", "flac"][n % 2],
            title=f"Part {n}",
            artist=["Ensemble Ω", "Solo Ω"][n % 2],
            album_artist="Ensemble Ω",
            album="Simultaneous",
            track=str(n + 1),
            genre="Minimal",
        )
        uploads.append(_add(web_server.ctx, db_conn, library, path))
    statuses = await gatherResults([Deferred.fromCoroutine(process_upload(web_server.ctx, up["id"])) for up in uploads])
    assert statuses == ["finished"] * 8
    assert (_count(db_conn, "artist"), _count(db_conn, "album"), _count(db_conn, "track")) == (2, 1, 8)
    assert _count(db_conn, "tag") == 1
    assert _one(db_conn, "SELECT count(*) AS n FROM tagged_item WHERE object_type = 'track'")["n"] == 8


# --- batches: many uploads in one transaction (music/importer/batch.py) ---


@pytest_twisted.ensureDeferred
async def test_a_batch_fails_each_broken_file_alone_with_its_code_and_skips_twins_inside_it(
    web_server, db_conn, owner, tmp_path
):
    user, library = owner
    ctx = web_server.ctx
    second = insert_library(db_conn, user, name="second")
    songs = [
        audio.make_audio(tmp_path, f"b{n}", "mp3", title=f"Song {n}", artist="Batch Band", album="One Go", track=str(n))
        for n in (1, 2)
    ]
    uploads = [
        _add(ctx, db_conn, library, songs[0]),
        _add(ctx, db_conn, library, audio.make_not_audio(tmp_path, "noise.mp3")),
        _add(ctx, db_conn, second, songs[0]),  # the owner's second copy of song 1, in the same batch
        _add(ctx, db_conn, library, songs[1]),
        _add(ctx, db_conn, library, audio.make_truncated(tmp_path, "flac")),
        # the database refuses this one (position out of range): the batch is imported again one upload at a time
        _add(ctx, db_conn, library, songs[1], import_metadata=Json({"position": 2**40})),
    ]
    statuses = await process_uploads(ctx, [u["id"] for u in uploads])
    assert [statuses[u["id"]] for u in uploads] == ["finished", "errored", "skipped", "finished", "errored", "errored"]
    details = {r["id"]: r["import_details"] for r in _all(db_conn, "SELECT id, import_details FROM upload")}
    codes = [details[u["id"]].get("error_code") for u in uploads]
    assert codes == [None, "unsupported_format", None, None, "corrupt_file", "unknown_error"]
    assert details[uploads[2]["id"]] == {
        "code": "already_imported_in_owned_libraries",
        "duplicates": [str(uploads[0]["uuid"])],
    }
    assert (_count(db_conn, "artist"), _count(db_conn, "album"), _count(db_conn, "track")) == (1, 1, 2)


@pytest_twisted.ensureDeferred
async def test_batches_share_artists_and_albums_match_musicbrainz_ids_and_a_reimport_changes_nothing(
    web_server, db_conn, owner, tmp_path
):
    _, library = owner
    ctx = web_server.ctx
    mbid = "4cf0e5e8-0b0c-4d55-9d6c-1fdf5b3d7a1e"
    tagged = [
        {"artist": "Ólafur Arnalds"},
        {"artist": "Ólafur Arnalds", "artist_mbid": mbid},  # the artist made just before gets the id
        {"artist": "Ó. Arnalds", "artist_mbid": mbid},  # another spelling, matched by the id (next batch)
        {"artist": "Ó. Arnalds", "artist_mbid": mbid, "date": "2018-03-02"},
    ]
    uploads = [
        _add(ctx, db_conn, library, audio.make_audio(tmp_path, f"m{n}", "ogg", title=f"Part {n}", album="re:member",
                                                     track=str(n), genre="Neoclassical", **tags))
        for n, tags in enumerate(tagged, 1)
    ]  # fmt: skip
    ids = [u["id"] for u in uploads]
    assert set((await process_uploads(ctx, ids[:2])).values()) == {"finished"}
    assert set((await process_uploads(ctx, ids[2:])).values()) == {"finished"}
    artists = _all(db_conn, "SELECT name, mbid::text FROM artist")
    assert artists == [{"name": "Ólafur Arnalds", "mbid": mbid}]
    album = _one(db_conn, "SELECT count(*) AS n, max(release_date)::text AS date FROM album")
    assert (album["n"], album["date"], _count(db_conn, "track")) == (1, "2018-03-02", 4)

    tracks = _all(db_conn, "SELECT id, track_id FROM upload ORDER BY id")
    tagged_items = _count(db_conn, "tagged_item")
    db_conn.cursor().execute("UPDATE upload SET import_status = 'pending'")
    assert set((await process_uploads(ctx, ids)).values()) == {"finished"}
    assert _all(db_conn, "SELECT id, track_id FROM upload ORDER BY id") == tracks
    assert (_count(db_conn, "artist"), _count(db_conn, "album"), _count(db_conn, "track")) == (1, 1, 4)
    assert _count(db_conn, "tagged_item") == tagged_items


@pytest_twisted.ensureDeferred
async def test_concurrent_batches_of_overlapping_uploads_create_each_row_once(web_server, db_conn, tmp_path):
    """Two batches with the same new artists, albums and tags (in opposite orders), and single uploads beside them
    (as the API's are imported), all at once: each row is made once, and no transaction deadlocks for good."""
    ctx = web_server.ctx
    files = [
        audio.make_audio(tmp_path, f"o{n}", ["mp3", "flac", "ogg"][n % 3], title=f"Piece {n}",
                         artist=f"Player {n % 3}", album_artist="Orchestra", album=f"Season {n % 2}",
                         track=str(n), genre=["Baroque", "Classical"][n % 2])
        for n in range(12)
    ]  # fmt: skip
    libraries = [insert_library(db_conn, insert_listener(db_conn, name)) for name in ("ann", "bob", "cid")]
    batches = [[_add(ctx, db_conn, lib, f)["id"] for f in files] for lib in libraries]
    runs = [
        process_uploads(ctx, batches[0]),
        process_uploads(ctx, batches[1][::-1]),
        *(process_upload(ctx, upload_id) for upload_id in batches[2]),
    ]
    outcomes = await gatherResults([Deferred.fromCoroutine(r) for r in runs])
    assert [set(o.values()) for o in outcomes[:2]] == [{"finished"}] * 2 and outcomes[2:] == ["finished"] * 12
    counts = (_count(db_conn, "artist"), _count(db_conn, "album"), _count(db_conn, "track"), _count(db_conn, "tag"))
    assert counts == (4, 2, 12, 2)


@pytest_twisted.ensureDeferred
async def test_an_import_task_takes_the_queued_uploads_with_it(web_server, db_conn, owner, tmp_path):
    from funkwhale.music.importer import tasks
    from funkwhale.tasks.queue import enqueue_durable_many_txn

    _, library = owner
    ctx = web_server.ctx
    uploads = [
        _add(ctx, db_conn, library, audio.make_audio(tmp_path, f"q{n}", "mp3", title=f"Queued {n}", artist="Q"))
        for n in range(3)
    ]
    uploads.append(_add(ctx, db_conn, library, audio.make_empty(tmp_path, "empty.mp3")))
    with db_conn.cursor() as cur:  # the tasks wait in the durable queue (no worker runs here)
        enqueue_durable_many_txn(cur, tasks.PROCESS_UPLOAD, [[u["id"]] for u in uploads])
    await tasks.process_upload(ctx, uploads[0]["id"])
    rows = {r["id"]: r for r in _all(db_conn, "SELECT id, import_status, import_details FROM upload")}
    assert [rows[u["id"]]["import_status"] for u in uploads] == ["finished"] * 3 + ["errored"]
    assert rows[uploads[3]["id"]]["import_details"]["error_code"] == "empty_file"
    await tasks.process_upload(ctx, uploads[3]["id"])  # its own task finds it done
    assert (
        _one(db_conn, "SELECT import_status FROM upload WHERE id = %s", uploads[3]["id"])["import_status"] == "errored"
    )
