"""Music of one peer seen from the other, for playback tests: an account's real upload on A (through the API and
A's worker), and the remote rows B keeps for it (library, artist, album, track, upload pointing at A): stored by a
real library scan (`scan`), or inserted as a scan would write them (`mirror`: for a private library, or an upload
whose audio comes from elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twisted.internet.task import deferLater

from funkwhale.activitypub import remote_actors
from funkwhale.music.normalize import fold

from .audio import make_audio
from .client import ApiClient
from .test_uploads import CONTENT_TYPE, form


@dataclass
class Published:
    """A finished upload on A: its file's bytes and its API JSON (track, uuid, listen_url...)."""

    data: bytes
    upload: dict[str, Any]
    library: dict[str, Any]

    @property
    def listen_url(self) -> str:
        return f"{self.upload['track']['listen_url']}?upload={self.upload['uuid']}&download=false"


async def publish(
    server: Any, user: ApiClient, tmp_path: Path, privacy: str = "everyone", fmt: str = "ogg", seconds: float = 2.0
) -> Published:
    """`user` makes a library of `privacy` on `server`, uploads a real audio file into it and waits for its import."""
    resp = await user.post("/api/v1/libraries/", json_body={"name": f"music-{privacy}", "privacy_level": privacy})
    assert resp.code == 201, resp
    library = resp.json
    song = make_audio(tmp_path, f"song-{privacy}", fmt, title="Far Away", artist="The Peers", album="Over There",
                      duration=seconds)  # fmt: skip
    data = song.read_bytes()
    resp = await user.post(
        "/api/v1/uploads/",
        data=form({"library": library["uuid"]}, data, filename=song.name),
        headers={"Content-Type": CONTENT_TYPE},
    )
    assert resp.code == 201, resp
    while True:
        done = await user.get(f"/api/v1/uploads/{resp.json['uuid']}/")
        if done.json["import_status"] != "pending":
            break
        await deferLater(server.ctx.clock, 0.1, lambda: None)
    assert done.json["import_status"] == "finished", done
    return Published(data, done.json, library)


def _insert(txn: Any, table: str, values: dict[str, Any]) -> dict[str, Any]:
    txn.execute(
        f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(['%s'] * len(values))}) RETURNING *",
        list(values.values()),
    )
    return dict(txn.fetchone())


async def mirror(
    origin: Any, server: Any, published: Published, owner: str, source: str | None = None
) -> dict[str, Any]:
    """The rows `server` keeps for `published` (of account `owner` on `origin`): the remote actor (really
    fetched), its library (privacy `everyone` for a public one, else `me`), artist, album, track and an upload
    whose `source` is the listen URL on `origin` (or `source`), not cached. Returns the upload row with the
    track's uuid as `track_uuid`."""
    actor = await remote_actors.get_actor(server.ctx, f"{origin.base}/federation/actors/{owner}")
    public = published.library["privacy_level"] == "everyone"
    track = published.upload["track"]

    def insert(txn: Any) -> dict[str, Any]:
        library = _insert(txn, "library", {
            "fid": f"{origin.base}/federation/music/libraries/{published.library['uuid']}",
            "actor_id": actor["id"], "name": published.library["name"], "privacy_level": "everyone" if public else "me",
        })  # fmt: skip
        artist = _insert(txn, "artist", {
            "fid": track["artist"]["fid"], "name": track["artist"]["name"], "name_key": fold(track["artist"]["name"]),
            "attributed_to_id": actor["id"],
        })  # fmt: skip
        album = _insert(txn, "album", {
            "fid": track["album"]["fid"], "title": track["album"]["title"], "title_key": fold(track["album"]["title"]),
            "artist_id": artist["id"], "attributed_to_id": actor["id"],
        })  # fmt: skip
        row = _insert(txn, "track", {
            "fid": track["fid"], "title": track["title"], "title_key": fold(track["title"]), "artist_id": artist["id"],
            "album_id": album["id"], "attributed_to_id": actor["id"],
        })  # fmt: skip
        upload = _insert(txn, "upload", {
            "fid": f"{origin.base}/federation/music/uploads/{published.upload['uuid']}",
            "library_id": library["id"], "track_id": row["id"], "import_status": "finished",
            "mimetype": published.upload["mimetype"], "size": published.upload["size"],
            "duration": published.upload["duration"], "bitrate": published.upload["bitrate"],
            "source": source or origin.base + published.listen_url,
        })  # fmt: skip
        return {**upload, "track_uuid": row["uuid"], "library": library}

    return await server.ctx.db.run(insert, desc="test.mirror")


async def scan(server: Any, user: ApiClient, published: Published) -> dict[str, Any]:
    """`user` of `server` fetches the library of `published` and scans it through the API (fed-music's real
    ingestion); the upload row `server` stored for it, with its track's uuid as `track_uuid` (as `mirror`)."""
    fetched = await user.post("/api/v1/federation/libraries/fetch/", json_body={"fid": published.library["fid"]})
    assert fetched.code == 200, fetched
    library = fetched.json["results"][0]["uuid"]
    assert (await user.post(f"/api/v1/federation/libraries/{library}/scan/")).code == 200
    while (await user.get(f"/api/v1/federation/libraries/{library}/")).json["latest_scan"]["status"] != "finished":
        await deferLater(server.ctx.clock, 0.1, lambda: None)

    def select(txn: Any) -> dict[str, Any]:
        txn.execute(
            "SELECT u.*, t.uuid AS track_uuid FROM upload u JOIN track t ON t.id = u.track_id WHERE u.fid LIKE %s",
            (f"%/federation/music/uploads/{published.upload['uuid']}",),
        )
        return dict(txn.fetchone())

    return await server.ctx.db.run(select, desc="test.scanned")


async def row(server: Any, upload_id: int) -> dict[str, Any]:
    """An upload row of `server` as it is now."""

    def select(txn: Any) -> dict[str, Any]:
        txn.execute("SELECT * FROM upload WHERE id = %s", (upload_id,))
        return dict(txn.fetchone())

    return await server.ctx.db.run(select, desc="test.row")


async def cached(server: Any, upload_id: int) -> dict[str, Any]:
    """The upload row once its cached copy is recorded (the listener may get the last byte a moment before)."""
    while not (current := await row(server, upload_id))["audio_file"]:
        await deferLater(server.ctx.clock, 0.05, lambda: None)
    return current


async def execute(server: Any, sql: str, *args: Any) -> None:
    """Run a statement in `server`'s database."""
    await server.ctx.db.run(lambda txn: txn.execute(sql, args), desc="test.execute")
