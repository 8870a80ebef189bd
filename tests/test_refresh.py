"""The hourly metadata refresh of folders imported in place, run by the worker: changed tags are read again,
uploads whose file vanished are removed (with the tracks, albums and artists left with nothing, and a Delete Audio
to the library's remote followers), and a cover added beside the files is picked up."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest_twisted

from funkwhale.jobs import housekeeping_jobs
from funkwhale.music.importer import rescans
from funkwhale.music.importer.fsimport import import_folder

from . import audio
from .catalog_factories import insert_library, insert_listener, listener_client
from .conftest import start_server
from .federation_helpers import eventually
from .test_federation_music_inbox import playable, titles_become


def _music(root: Path) -> Path:
    folder = root / "music"
    audio.make_audio(folder / "takk", "01", "mp3", title="Glósóli", artist="Sigur Rós", album="Takk", track=1)
    audio.make_audio(folder / "takk", "02", "mp3", title="Hoppípolla", artist="Sigur Rós", album="Takk", track=2)
    audio.make_audio(folder / "valtari", "01", "mp3", title="Ég anda", artist="Sigur Rós", album="Valtari")
    audio.make_audio(folder / "mum", "01", "mp3", title="Green Grass", artist="Múm", album="Finally We Are No One")
    return folder


def _kveikur(folder: Path, color: str) -> None:
    audio.make_audio(
        folder / "kveikur", "01", "mp3", title="Brennisteinn", artist="Sigur Rós", album="Kveikur",
        cover=audio.make_cover(color),
    )  # fmt: skip


def _touch_later(path: Path) -> None:
    later = path.stat().st_mtime + 100
    os.utime(path, (later, later))


async def _refresh(server: Any) -> None:
    """What the scheduler does every hour: queue the durable re-scan (the worker runs it and what it queues)."""
    job = {j.name: j for j in housekeeping_jobs(server.ctx)}["music.rescan_folders"]
    assert await job.run() is True


def _tracks_by_title(tracks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {track["title"]: track for track in tracks}


@pytest_twisted.ensureDeferred
async def test_the_refresh_rereads_tags_removes_vanished_files_and_their_rows_and_picks_up_covers(
    settings, clean, db_conn, tmp_path
):
    music = _music(tmp_path)
    server = await start_server(dataclasses.replace(settings, music_directories=(str(music),)))
    try:
        alice = insert_listener(db_conn, "alice")
        library = insert_library(db_conn, alice)
        _kveikur(music, "red")
        summary = await import_folder(server.ctx, str(library["uuid"]), music, in_place=True, recursive=True)
        assert summary.imported == 5
        client = listener_client(server, db_conn, alice)
        tracks = _tracks_by_title((await client.get("/api/v1/tracks/?page_size=50")).json["results"])
        uploads = (await client.get("/api/v1/uploads/?page_size=50")).json["results"]
        mum = tracks["Green Grass"]
        valtari = tracks["Ég anda"]
        takk = tracks["Glósóli"]["album"]
        assert takk["cover"] is None
        retagged = tracks["Hoppípolla"]
        kveikur = tracks["Brennisteinn"]["album"]
        red = await client.get(urlsplit(kveikur["cover"]["urls"]["original"]).path)
        assert red.code == 200 and red.body == audio.make_cover("red")

        audio.make_audio(music / "takk", "02", "mp3", title="Hoppípolla (live)", artist="Sigur Rós", album="Takk")
        _touch_later(music / "takk" / "02.mp3")
        _kveikur(music, "blue")
        _touch_later(music / "kveikur" / "01.mp3")
        (music / "mum" / "01.mp3").unlink()
        (music / "valtari" / "01.mp3").unlink()
        (music / "takk" / "cover.jpg").write_bytes(audio.make_cover("green"))
        await _refresh(server)

        async def refreshed() -> bool:
            resp = await client.get("/api/v1/tracks/?ordering=title")
            return [t["title"] for t in resp.json["results"]] == ["Brennisteinn", "Glósóli", "Hoppípolla (live)"]

        await eventually(refreshed, what="the changed tags to be read and the vanished files' tracks to go")

        async def gone(path: str) -> bool:
            return (await client.get(path)).code == 404

        for path in (
            f"/api/v1/tracks/{mum['id']}/",
            f"/api/v1/albums/{mum['album']['id']}/",
            f"/api/v1/artists/{mum['artist']['id']}/",
            f"/api/v1/tracks/{valtari['id']}/",
            f"/api/v1/albums/{valtari['album']['id']}/",
            f"/api/v1/tracks/{retagged['id']}/",  # the track the old tags made
            urlsplit(kveikur["cover"]["urls"]["original"]).path,  # the picture the file no longer has
        ):
            await eventually(lambda path=path: gone(path), what=f"{path} to be pruned")
        with db_conn.cursor() as cur:  # the rows, not only what the API shows (a track with no upload is a 404)
            cur.execute(
                "SELECT (SELECT array_agg(title ORDER BY title) FROM track) AS tracks,"
                " (SELECT array_agg(title ORDER BY title) FROM album) AS albums,"
                " (SELECT array_agg(name) FROM artist) AS artists"
            )
            assert cur.fetchone() == {
                "tracks": ["Brennisteinn", "Glósóli", "Hoppípolla (live)"],
                "albums": ["Kveikur", "Takk"],
                "artists": ["Sigur Rós"],
            }
        vanished = {u["uuid"] for u in uploads if u["track"]["id"] in (mum["id"], valtari["id"])}
        assert len(vanished) == 2
        for uuid in vanished:
            assert (await client.get(f"/api/v1/uploads/{uuid}/")).code == 404
        still = await client.get(f"/api/v1/artists/{valtari['artist']['id']}/")
        assert still.code == 200 and still.json["name"] == "Sigur Rós", "an artist with other tracks stays"

        album = (await client.get(f"/api/v1/albums/{takk['id']}/")).json
        assert album["cover"] is not None, "the cover.jpg added beside the files"
        picture = await client.get(urlsplit(album["cover"]["urls"]["original"]).path)
        assert picture.code == 200 and picture.body == (music / "takk" / "cover.jpg").read_bytes()
        kveikur = (await client.get(f"/api/v1/albums/{kveikur['id']}/")).json
        blue = await client.get(urlsplit(kveikur["cover"]["urls"]["original"]).path)
        assert blue.code == 200 and blue.body == audio.make_cover("blue"), "the embedded picture that changed"
        assert (await client.get("/api/v1/uploads/?page_size=50")).json["count"] == 3
    finally:
        await server.service.stopService()


@pytest_twisted.ensureDeferred
async def test_a_folder_that_is_gone_or_empty_is_not_emptied(settings, clean, db_conn, tmp_path):
    """An unmounted disk looks like a folder whose files all vanished (its mount point missing or empty): its
    uploads stay."""
    music = _music(tmp_path)
    server = await start_server(dataclasses.replace(settings, music_directories=(str(music),)))
    try:
        alice = insert_listener(db_conn, "alice")
        library = insert_library(db_conn, alice)
        for folder in ("takk", "valtari"):
            await import_folder(server.ctx, str(library["uuid"]), music / folder, in_place=True, recursive=False)
        (music / "valtari").rename(music / "elsewhere")
        (music / "takk" / "01.mp3").rename(music / "01.mp3")
        (music / "takk" / "02.mp3").rename(music / "02.mp3")
        await _refresh(server)

        async def scan_over() -> bool:
            return not (await rescans.status(server.ctx))["scanning"]

        await eventually(scan_over, what="the re-scan to end")
        client = listener_client(server, db_conn, alice)
        assert (await client.get("/api/v1/uploads/")).json["count"] == 3
        with db_conn.cursor() as cur:
            cur.execute("SELECT count(*) AS n FROM task WHERE name = 'music.remove_vanished_uploads'")
            assert cur.fetchone()["n"] == 0
    finally:
        await server.service.stopService()


@pytest_twisted.ensureDeferred
async def test_a_vanished_file_is_deleted_on_the_servers_that_follow_its_library(peers, tmp_path):
    """bob on B follows alice's library on A; a file of it vanishes from A's folder: B gets Delete Audio."""
    music = _music(tmp_path)
    a = peers.a
    a.ctx.settings = dataclasses.replace(a.ctx.settings, music_directories=(str(music),))
    alice = await peers.user(a, "alice")
    made = await alice.post("/api/v1/libraries/", json_body={"name": "Folder", "privacy_level": "everyone"})
    assert made.code == 201, made
    await import_folder(a.ctx, made.json["uuid"], music / "takk", in_place=True, recursive=False)
    bob = await peers.user(peers.b, "bob")
    fetched = await bob.post("/api/v1/federation/libraries/fetch/", json_body={"fid": made.json["fid"]})
    remote = fetched.json["results"][0]
    follow = await bob.post("/api/v1/federation/follows/library/", json_body={"target": remote["uuid"]})
    assert follow.code == 201, follow
    await eventually(titles_become(bob, ["Glósóli", "Hoppípolla"]), what="B to scan the library")

    (music / "takk" / "01.mp3").unlink()
    await _refresh(a)
    await eventually(titles_become(bob, ["Hoppípolla"]), what="Delete Audio to reach B")
    assert await playable(alice) == ["Hoppípolla"]
