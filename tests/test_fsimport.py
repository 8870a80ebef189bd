"""`funkwhale import PATH --library UUID` as an operator runs it (a real subprocess on the test servers)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import pytest_twisted

from . import audio
from .catalog_factories import auth_changed, insert_library, insert_listener, listener_client

FUNKWHALE = str(Path(sys.executable).with_name("funkwhale"))


@pytest.fixture
def music(tmp_path):
    folder = tmp_path / "music"
    (folder / "disc2").mkdir(parents=True)
    for n, fmt in enumerate(["mp3", "flac", "ogg"], 1):
        audio.make_audio(folder, f"{n:02d}", fmt, title=f"Track {n}", artist="Sigur Rós", album="Takk", track=str(n))
    audio.make_audio(folder / "disc2", "04", "opus", title="Track 4", artist="Sigur Rós", album="Takk", disc="2")
    audio.make_not_audio(folder, "broken.mp3")
    (folder / "notes.txt").write_text("not audio")
    (folder / "cover.jpg").write_bytes(audio.make_cover("green"))
    return folder


@pytest.fixture
def run(servers, clean, tmp_path, music):
    env = {
        **os.environ,
        "FUNKWHALE_DATABASE_URL": servers[0],
        "FUNKWHALE_REDIS_URL": servers[1],
        "FUNKWHALE_DATA_DIR": str(tmp_path / "data"),
        "FUNKWHALE_MEDIA_ROOT": str(tmp_path / "media"),
        "FUNKWHALE_MUSIC_DIRECTORIES": str(music),
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([FUNKWHALE, *args], env=env, capture_output=True, text=True, timeout=120)

    run.env = env
    return run


def _uploads(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT source, audio_file, import_status, import_details FROM upload ORDER BY source")
        return cur.fetchall()


def test_in_place_import_references_files_and_a_rerun_imports_only_what_changed(run, db_conn, music):
    library = insert_library(db_conn, insert_listener(db_conn, "alice"))
    result = run("import", str(music), "--library", str(library["uuid"]), "--in-place", "--recursive")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported 4, skipped 0, unchanged 0, errored 1 (of 5 files)"
    rows = _uploads(db_conn)
    assert all(r["audio_file"] is None and r["source"].startswith(f"file://{music}") for r in rows)
    assert [r["import_details"].get("error_code") for r in rows if r["import_status"] == "errored"] == [
        "unsupported_format"
    ]
    with db_conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM album) AS n, min(attachment_cover_id) AS cover FROM upload"
            " WHERE import_status = 'finished'"
        )
        album = cur.fetchone()
    assert album["n"] == 1 and album["cover"] is not None  # cover.jpg beside the files, on the uploads

    again = run("import", str(music), "--library", str(library["uuid"]), "--in-place", "--recursive")
    assert again.stdout.strip() == "imported 0, skipped 0, unchanged 5, errored 0 (of 5 files)"

    changed = music / "02.flac"
    audio.make_audio(music, "02", "flac", title="Track 2 (remastered)", artist="Sigur Rós", album="Takk", track="2")
    os.utime(changed, (changed.stat().st_atime, changed.stat().st_mtime + 10))
    third = run("import", str(music), "--library", str(library["uuid"]), "--in-place", "--recursive")
    assert third.stdout.strip() == "imported 1, skipped 0, unchanged 4, errored 0 (of 5 files)"
    with db_conn.cursor() as cur:
        cur.execute("SELECT title FROM track ORDER BY title")
        assert "Track 2 (remastered)" in [r["title"] for r in cur.fetchall()]


def test_copy_import_and_refusals(run, db_conn, music, tmp_path):
    library = insert_library(db_conn, insert_listener(db_conn, "alice"))
    result = run("import", str(music), "--library", str(library["uuid"]))
    assert result.returncode == 0 and "imported 3," in result.stdout  # not recursive: disc2 left out
    assert all(r["audio_file"] and (tmp_path / "media" / r["audio_file"]).exists() for r in _uploads(db_conn))

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    refused = run("import", str(outside), "--library", str(library["uuid"]), "--in-place")
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith("in-place imports may only reference those")
    unknown = run("import", str(music), "--library", "00000000-0000-0000-0000-000000000000")
    assert unknown.returncode == 1 and "no library" in unknown.stderr


def test_concurrent_imports_of_overlapping_folders_make_each_row_once(run, db_conn, music):
    """Enough files for the tags to be read in the pool of processes; the second import
    (another owner's library) covers a sub-folder of the first, at the same time."""
    big = music / "big"
    for n in range(60):
        folder = big / f"album{n % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        audio.make_audio(
            folder,
            f"{n:02d}",
            ["mp3", "ogg"][n % 2],
            title=f"Cut {n}",
            artist=f"Band {n % 3}",
            album_artist="The Label",
            album=f"Volume {n % 4}",
            track=str(n // 4 + 1),
            genre="Dub",
        )
    libraries = [str(insert_library(db_conn, insert_listener(db_conn, name))["uuid"]) for name in ("ann", "bob")]
    env = run.env
    commands = [
        [FUNKWHALE, "import", str(big), "--library", libraries[0], "--in-place", "--recursive"],
        [FUNKWHALE, "import", str(big / "album1"), "--library", libraries[1], "--in-place"],
    ]
    processes = [
        subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [out.strip() for out, _ in outputs] == [
        "imported 60, skipped 0, unchanged 0, errored 0 (of 60 files)",
        "imported 15, skipped 0, unchanged 0, errored 0 (of 15 files)",
    ], [err[-2000:] for _, err in outputs]
    with db_conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM artist) AS artists, (SELECT count(*) FROM album) AS albums,"
            " (SELECT count(*) FROM track) AS tracks, (SELECT count(*) FROM tag) AS tags,"
            " (SELECT count(DISTINCT track_id) FROM upload) AS played"
        )
        assert cur.fetchone() == {"artists": 4, "albums": 4, "tracks": 60, "tags": 1, "played": 60}


@pytest_twisted.ensureDeferred
async def test_the_hourly_rescan_imports_new_files_of_the_folders_imported_in_place(run, web_server, db_conn, music):
    """The hourly job only queues a durable task (the scheduler does no import); the task imports."""
    from funkwhale.jobs import housekeeping_jobs
    from funkwhale.music.importer import rescans

    library = insert_library(db_conn, insert_listener(db_conn, "alice"))
    assert run("import", str(music / "disc2"), "--library", str(library["uuid"]), "--in-place").returncode == 0
    audio.make_audio(music / "disc2", "05", "mp3", title="Track 5", artist="Sigur Rós", album="Takk", disc="2")
    audio.make_audio(music, "06", "mp3", title="Track 6", artist="Sigur Rós", album="Takk")  # not imported before

    web_server.ctx.settings = dataclasses.replace(web_server.ctx.settings, music_directories=(str(music),))
    job = {j.name: j for j in housekeeping_jobs(web_server.ctx)}["music.rescan_folders"]
    assert await job.run() is True
    assert await job.run() is False, "a scan is already queued"
    with db_conn.cursor() as cur:
        cur.execute("SELECT args FROM task WHERE name = 'music.rescan_folders' AND status = 'pending'")
        (token,) = [r["args"][0] for r in cur.fetchall()]
    assert await rescans.rescan_folders(web_server.ctx, token) == 1
    assert await rescans.request(web_server.ctx) is True, "the lock went with the scan"
    with db_conn.cursor() as cur:
        cur.execute("SELECT source FROM upload WHERE import_status = 'finished' ORDER BY source")
        assert [r["source"] for r in cur.fetchall()] == [
            f"file://{music}/disc2/04.opus",
            f"file://{music}/disc2/05.mp3",
        ]


@pytest_twisted.ensureDeferred
async def test_in_place_files_with_uri_characters_in_their_names_import_and_play(run, web_server, db_conn, music):
    """`?`, `#` and `%` are kept in the source URI percent-encoded, so every surface reads back the same file."""
    names = ["What?", "A#1", "100%25 Pure"]
    odd = music / "odd"
    odd.mkdir()
    for n, name in enumerate(names, 1):
        audio.make_audio(odd, name, "mp3", title=f"Odd {n}", artist="Odd Names", album="Odd", track=str(n))
    alice = insert_listener(db_conn, "alice")
    library = insert_library(db_conn, alice)
    result = run("import", str(odd), "--library", str(library["uuid"]), "--in-place")
    assert result.stdout.strip() == "imported 3, skipped 0, unchanged 0, errored 0 (of 3 files)", result.stderr

    client = listener_client(web_server, db_conn, alice)
    tracks = (await client.get("/api/v1/tracks/?ordering=title")).json["results"]
    assert [t["title"] for t in tracks] == ["Odd 1", "Odd 2", "Odd 3"]
    for track, name in zip(tracks, names, strict=True):
        assert track["uploads"][0]["extension"] == "mp3"
        played = await client.get(track["listen_url"])
        assert played.code == 200, (name, played)
        assert played.body == (odd / f"{name}.mp3").read_bytes()
        transcoded = await client.get(track["listen_url"] + "?to=ogg")
        assert transcoded.code == 200 and transcoded.body.startswith(b"OggS"), name

    again = run("import", str(odd), "--library", str(library["uuid"]), "--in-place")
    assert again.stdout.strip() == "imported 0, skipped 0, unchanged 3, errored 0 (of 3 files)"


@pytest_twisted.ensureDeferred
async def test_fs_import_over_http_queues_an_in_place_import_and_can_be_canceled(web_server, db_conn, music, tmp_path):
    """POST only queues the durable task (a web-only server has no worker: the test runs the task itself)."""
    from funkwhale.music.importer import server_imports

    alice = insert_listener(db_conn, "alice")
    library = insert_library(db_conn, alice)
    me = listener_client(web_server, db_conn, alice)
    web_server.ctx.settings = dataclasses.replace(web_server.ctx.settings, music_directories=(str(music),))
    form = {"library": str(library["uuid"]), "path": "disc2", "import_reference": "web"}
    assert (await me.post("/api/v1/libraries/fs-import/", json_body=form)).code == 403
    with db_conn.cursor() as cur:
        cur.execute("UPDATE users SET permission_library = true WHERE id = %s", (alice["id"],))
    auth_changed()

    resp = await me.get("/api/v1/libraries/fs-import/")
    assert resp.code == 200 and resp.json["root"] == str(music) and resp.json["import"] is None, resp
    assert {"name": "disc2", "dir": True} in resp.json["content"]
    assert {"name": "notes.txt", "dir": False} in resp.json["content"]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for path in ("../elsewhere", str(outside), "nothing", "a\x00b"):
        bad = {**form, "path": path}
        resp = await me.post("/api/v1/libraries/fs-import/", json_body=bad)
        assert resp.code == 400 and "path" in resp.json, resp
    resp = await me.post("/api/v1/libraries/fs-import/", json_body={**form, "library": "not-a-uuid"})
    assert resp.code == 400 and "library" in resp.json, resp

    assert (await me.post("/api/v1/libraries/fs-import/", json_body=form)).code == 201
    resp = await me.post("/api/v1/libraries/fs-import/", json_body=form)
    assert resp.code == 400 and resp.json["detail"] == "An import is already running", resp
    state = (await me.get("/api/v1/libraries/fs-import/")).json["import"]
    assert state == {"status": "pending", "reference": "web", "logs": []}

    def queued() -> list:
        """The arguments of the one queued import, taken off the table (as a worker would run it once)."""
        with db_conn.cursor() as cur:
            cur.execute("DELETE FROM task WHERE name = 'music.fs_import' RETURNING args")
            (args,) = [r["args"] for r in cur.fetchall()]
            return args

    await server_imports.fs_import(web_server.ctx, *queued())
    state = (await me.get("/api/v1/libraries/fs-import/")).json["import"]
    assert state["status"] == "finished" and state["logs"][0].startswith("imported 1,"), state
    with db_conn.cursor() as cur:
        cur.execute("SELECT source, import_reference FROM upload WHERE import_status = 'finished'")
        assert cur.fetchall() == [{"source": f"file://{music}/disc2/04.opus", "import_reference": "web"}]

    assert (await me.post("/api/v1/libraries/fs-import/", json_body={**form, "path": "."})).code == 201
    assert (await me.delete("/api/v1/libraries/fs-import/")).code == 204
    assert (await me.get("/api/v1/libraries/fs-import/")).json["import"]["status"] == "canceled"
    await server_imports.fs_import(web_server.ctx, *queued())
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM upload")
        assert cur.fetchone()["n"] == 1, "the canceled import imported nothing"
    assert (await me.post("/api/v1/libraries/fs-import/", json_body=form)).code == 201, "the lock went with it"


def test_the_readers_fork_server_started_ahead_leaves_the_commands_output_alone():
    """`funkwhale import` starts the tag readers' fork server before it reaches the database (readers.prepare): the
    server must not hold the command's standard output and error, which a caller capturing them reads to their end
    (a re-run of unchanged files would otherwise end when the server has loaded mutagen)."""
    code = (
        "import os\n"
        "from multiprocessing import forkserver\n"
        "from funkwhale.music.importer import readers\n"
        "readers.processes = lambda: 1  # as on a machine with a core to spare, whatever this one has\n"
        "readers.prepare(readers.MIN_FILES)\n"
        "server = forkserver._forkserver._forkserver_pid\n"
        "print(os.readlink(f'/proc/{server}/fd/1'), os.readlink(f'/proc/{server}/fd/2'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [os.devnull, os.devnull]
