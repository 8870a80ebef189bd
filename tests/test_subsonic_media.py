"""The Subsonic media side over a real imported library: stream (original with Range, transcodes by format and
maxBitRate, raw, timeOffset, estimateContentLength), download, getCoverArt (every id kind, size), lyrics from
embedded tags (plain and LRC), getAvatar; Alice's private library out of Bob's reach; py-sonic as a client."""

from __future__ import annotations

import http.client
import io
from pathlib import Path
from urllib.parse import urlencode

import libsonic
import pytest_twisted
from PIL import Image
from twisted.internet.threads import deferToThread

from funkwhale import storage
from funkwhale.music.importer.pipeline import process_upload
from funkwhale.music.playback import BITRATE_STEPS

from . import audio
from . import catalog_factories as cf
from .catalog_factories import insert_upload
from .playback_helpers import probe
from .subsonic_helpers import NS, Subsonic, one, upload_file, validate
from .test_profile import send_picture

LRC = "[ar:Die Ärzte]\n[00:01.50]Zweite Zeile\n[00:00.20]Erste Zeile\n[00:03.00][00:04.25]Refrain"


def _file(settings, conn, track: str) -> bytes:
    row = one(conn, "SELECT audio_file FROM upload WHERE track_id = %s", int(track.split("-")[1]))
    return storage.absolute(settings, row["audio_file"]).read_bytes()


async def _get(api: Subsonic, method: str, headers: dict[str, str] | None = None, **params):
    """A binary call (GET, token auth) with extra request headers."""
    query = urlencode({"v": "1.16.1", "c": "tests", **api.credentials(), **params}, doseq=True)
    return await api.http.get(f"{api.prefix}/{method}?{query}", headers=headers)


async def _error(api: Subsonic, method: str, **params) -> int:
    """The error code of a binary method answering a failure (validated JSON envelope)."""
    resp = await _get(api, method, f="json", **params)
    assert resp.code == 200 and resp.header("content-type").startswith("application/json"), resp
    validate("ping", resp.json)  # binary methods describe no JSON answer: the plain envelope
    assert resp.json["subsonic-response"]["status"] == "failed"
    return resp.json["subsonic-response"]["error"]["code"]


def _versions(conn) -> int:
    return one(conn, "SELECT count(*) AS n FROM upload_version")["n"]


@pytest_twisted.ensureDeferred
async def test_stream_originals_and_transcodes(web_server, db_conn, alice, bob, ids, tmp_path):
    api, settings = Subsonic(web_server, alice), web_server.ctx.settings
    original = _file(settings, db_conn, ids["first"])
    whole = await _get(api, "stream", id=ids["first"])
    assert whole.code == 200 and whole.header("content-type") == "audio/mpeg" and whole.body == original
    assert whole.header("accept-ranges") == "bytes"
    part = await _get(api, "stream", {"Range": "bytes=100-199"}, id=ids["first"])
    assert part.code == 206 and part.body == original[100:200]
    assert part.header("content-range") == f"bytes 100-199/{len(original)}"
    query = urlencode({"v": "1.16.1", "c": "tests", **api.credentials(), "id": ids["second"], "maxBitRate": 128})
    head = await api.http.request("HEAD", f"/rest/stream?{query}")
    assert head.code == 200 and head.header("content-type") == "audio/mpeg" and head.body == b""

    # maxBitRate without format (DSub): mp3; `raw` keeps the flac; `format` picks the codec.
    flac = _file(settings, db_conn, ids["second"])
    capped = await _get(api, "stream", id=ids["second"], maxBitRate=128)
    assert capped.header("content-type") == "audio/mpeg"
    container, seconds = probe(capped.body, tmp_path)
    assert container == "mp3" and 1.8 < seconds < 2.3
    raw = await _get(api, "stream", id=ids["second"], format="raw", maxBitRate=64)
    assert raw.header("content-type") == "audio/flac" and raw.body == flac
    ogg = await _get(api, "stream", id=ids["first"], format="ogg")
    assert ogg.header("content-type") == "audio/ogg" and probe(ogg.body, tmp_path)[0] == "ogg"
    assert _versions(db_conn) == 2  # both transcodes cached

    # timeOffset: ffmpeg starts a second in; such a transcode is not cached.
    late = await _get(api, "stream", id=ids["second"], format="mp3", maxBitRate=128, timeOffset=1)
    container, seconds = probe(late.body, tmp_path)
    assert container == "mp3" and 0.8 < seconds < 1.3
    same_format = await _get(api, "stream", id=ids["first"], timeOffset=1)
    assert same_format.header("content-type") == "audio/mpeg" and probe(same_format.body, tmp_path)[1] < 1.3
    assert _versions(db_conn) == 2

    # estimateContentLength: duration x bitrate announced (twisted's client keeps Content-Length to itself), the
    # live transcode cut or padded to exactly that (and not cached: the client may hang up at that length).
    estimated = await _get(api, "stream", id=ids["second"], maxBitRate=96, estimateContentLength="true")
    assert len(estimated.body) == 2 * 96 * 1000 // 8 and probe(estimated.body, tmp_path)[0] == "mp3"
    bitrate = one(db_conn, "SELECT bitrate FROM upload WHERE track_id = %s", int(ids["first"][3:]))["bitrate"]
    kbps = max(step for step in BITRATE_STEPS if step <= bitrate // 1000)  # the mp3's bitrate, snapped down
    padded = await _get(api, "stream", id=ids["first"], format="ogg", estimateContentLength="true")
    assert len(padded.body) == 2 * kbps * 1000 // 8 and padded.body.endswith(bytes(1000))  # vorbis makes less
    assert _versions(db_conn) == 2

    assert await _error(api, "stream", id="tr-999999") == 70
    assert await _error(api, "stream") == 10
    assert await _error(Subsonic(web_server, bob), "stream", id=ids["first"]) == 70
    assert await _error(Subsonic(web_server, bob), "download", id=ids["first"]) == 70
    xml = await _get(api, "stream", id=ids["dusk"])
    assert xml.header("content-type").startswith("application/xml") and b'code="70"' in xml.body


def _body_until_closed(base: str, path: str) -> tuple[int, int, bytes]:
    """(status, announced Content-Length, the body as far as the server sent it: it may cut the connection)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = b""
        try:
            while chunk := response.read(65536):
                body += chunk
        except (http.client.IncompleteRead, ConnectionResetError):
            pass  # cut short
        return response.status, int(response.getheader("content-length") or -1), body
    finally:
        conn.close()


@pytest_twisted.ensureDeferred
async def test_estimated_length_of_a_file_whose_header_claims_hours(web_server, db_conn, alice, tmp_path):
    """The duration in an mp3's header is bounded by what its bytes can hold; the padding follows the client and
    stops short of megabytes of silence (before: 4000 claimed seconds announced and padded 64 MB in memory)."""
    library = cf.insert_library(db_conn, alice, "me", name="Home")
    api = Subsonic(web_server, alice)
    answers = {}
    for claim in (4000, 31_000 * 3600):  # the bitrate read stays 128 kbps, then reads ~300 bit/s (bytes overflow)
        path = audio.make_audio(tmp_path, f"liar-{claim}", "mp3", title=f"Liar {claim}", artist="Liar")
        upload = upload_file(web_server.ctx, db_conn, library, audio.claim_duration(path, claim))
        assert await process_upload(web_server.ctx, upload["id"]) == "finished"
        row = one(db_conn, "SELECT track_id, size, duration FROM upload WHERE id = %s", upload["id"])
        assert row["duration"] >= claim  # the importer believed the header
        query = urlencode({"v": "1.16.1", "c": "tests", **api.credentials(), "id": f"tr-{row['track_id']}",
                           "format": "opus", "estimateContentLength": "true"})  # fmt: skip
        status, announced, body = await deferToThread(_body_until_closed, web_server.base, f"/rest/stream?{query}")
        assert status == 200 and announced < 5 * row["size"], announced  # seconds of audio, not hours
        assert 0 < len(body) <= announced and probe(body, tmp_path)[0] == "ogg"
        answers[claim] = announced, body
    announced, body = answers[4000]
    assert len(body) == announced  # twice the ~2 s the file holds at its bitrate: a little padding
    announced, body = answers[31_000 * 3600]
    assert len(body) < announced / 2  # 8 kbps x size: far off, so the body ends with what ffmpeg made


@pytest_twisted.ensureDeferred
async def test_download_and_cover_art(web_server, db_conn, alice, bob, ids):
    api, settings = Subsonic(web_server, alice), web_server.ctx.settings
    got = await _get(api, "download", id=ids["second"], maxBitRate=64)
    assert got.code == 200 and got.header("content-type") == "audio/flac"
    assert got.body == _file(settings, db_conn, ids["second"])
    assert got.header("content-disposition").startswith("attachment; filename*=UTF-8''Second%20Wind")

    cover = await _get(api, "getCoverArt", id=ids["dusk"])
    assert cover.code == 200 and cover.header("content-type") == "image/jpeg"
    assert Image.open(io.BytesIO(cover.body)).size[0] > 50
    for other in (ids["first"], ids["owls"], ids["first"].removeprefix("tr-")):  # a song's, an artist's: the album's
        assert (await _get(api, "getCoverArt", id=other)).body == cover.body
    small = await _get(api, "getCoverArt", id=ids["dusk"], size=50)
    assert small.header("content-type") == "image/jpeg" and Image.open(io.BytesIO(small.body)).size == (50, 50)
    assert await _error(api, "getCoverArt", id=ids["abend"]) == 70  # Nacht has no cover
    assert await _error(api, "getCoverArt", id="al-999999") == 70

    playlist = (await api.ok("createPlaylist", name="Road", songId=[ids["abend"], ids["second"]]))["playlist"]
    assert (await _get(api, "getCoverArt", id=playlist["coverArt"])).body == cover.body
    other = Subsonic(web_server, bob)
    for hidden in (ids["dusk"], ids["first"], ids["owls"], playlist["id"]):
        assert await _error(other, "getCoverArt", id=hidden) == 70


@pytest_twisted.ensureDeferred
async def test_cover_art_comes_in_fixed_sizes(web_server, db_conn, alice, tmp_path):
    """Before: each size asked made its own resize and file (size=17, 18, ... 1200: 1184 decodes of a picture)."""
    library = cf.insert_library(db_conn, alice, "me")
    cover = audio.make_cover("blue", size=(800, 600))
    song = audio.make_audio(tmp_path, "wide", "mp3", title="Wide", artist="X", album="Wide", cover=cover)
    upload = upload_file(web_server.ctx, db_conn, library, song)
    assert await process_upload(web_server.ctx, upload["id"]) == "finished"
    album = one(db_conn, "SELECT album_id FROM track WHERE title = 'Wide'")["album_id"]
    api = Subsonic(web_server, alice)
    for asked, side in ((1, 50), (60, 50), (80, 100), (170, 200), (280, 300), (500, 600), (999, 600), (5000, 600)):
        got = await _get(api, "getCoverArt", id=f"al-{album}", size=asked)
        assert got.code == 200 and Image.open(io.BytesIO(got.body)).size == (side, side), asked
    crops = list(storage.absolute(web_server.ctx.settings, "attachments").rglob("*-*.jpg"))
    assert len(crops) == 6  # 50, 100, 200, 300, 600 and 1200 (not enlarged past the picture's 600)


async def _import(ctx, conn, library, directory: Path, name: str, fmt: str, **tags) -> None:
    path = audio.make_audio(directory, name, fmt, **tags)
    target_name = storage.new_name(storage.TRACKS, path.suffix)
    target = storage.absolute(ctx.settings, target_name)
    storage.ensure_parent(target)
    target.write_bytes(path.read_bytes())
    upload = insert_upload(conn, library, None, import_status="pending", audio_file=target_name)
    assert await process_upload(ctx, upload["id"]) == "finished"


@pytest_twisted.ensureDeferred
async def test_lyrics(web_server, db_conn, alice, bob, ids, imported, tmp_path):
    ctx = web_server.ctx
    await _import(ctx, db_conn, imported, tmp_path / "more", "synced", "ogg", title="Mitternacht",
                  artist="Die Ärzte", album="Nacht", lyrics=LRC)  # fmt: skip
    await _import(ctx, db_conn, imported, tmp_path / "more", "plain", "mp3", title="Morgen", artist="Die Ärzte",
                  album="Nacht", lyrics="Line one\nLine two")  # fmt: skip
    api = Subsonic(web_server, alice)
    found = (await api.ok("search3", query="mitternacht"))["searchResult3"]["song"][0]
    synced = (await api.ok("getLyricsBySongId", id=found["id"]))["lyricsList"]["structuredLyrics"]
    assert len(synced) == 1 and synced[0]["synced"] is True
    assert (synced[0]["displayArtist"], synced[0]["displayTitle"]) == ("Die Ärzte", "Mitternacht")
    assert [(line["start"], line["value"]) for line in synced[0]["line"]] == [
        (200, "Erste Zeile"), (1500, "Zweite Zeile"), (3000, "Refrain"), (4250, "Refrain"),
    ]  # fmt: skip
    root = await api.xml("getLyricsBySongId", id=found["id"])
    assert [line.text for line in root.iter(f"{NS}line")][:2] == ["Erste Zeile", "Zweite Zeile"]

    plain = (await api.ok("getLyrics", artist="die arzte", title="MORGEN"))["lyrics"]
    assert plain == {"artist": "Die Ärzte", "title": "Morgen", "value": "Line one\nLine two"}
    morgen = (await api.ok("search3", query="morgen"))["searchResult3"]["song"][0]
    unsynced = (await api.ok("getLyricsBySongId", id=morgen["id"]))["lyricsList"]["structuredLyrics"][0]
    assert unsynced["synced"] is False and [line["value"] for line in unsynced["line"]] == ["Line one", "Line two"]
    assert "start" not in unsynced["line"][0]
    lrc_as_text = (await api.ok("getLyrics", title="Mitternacht"))["lyrics"]["value"]
    assert lrc_as_text == "Zweite Zeile\nErste Zeile\nRefrain"  # file order, without timestamps and tags
    assert (await api.ok("getLyrics", artist="Nobody", title="Morgen"))["lyrics"] == {"value": ""}
    assert (await api.ok("getLyricsBySongId", id=ids["first"]))["lyricsList"] == {"structuredLyrics": []}
    assert await api.error("getLyricsBySongId", {"id": "tr-999999"}) == 70
    other = Subsonic(web_server, bob)
    assert await other.error("getLyricsBySongId", {"id": found["id"]}) == 70
    assert (await other.ok("getLyrics", title="Morgen"))["lyrics"] == {"value": ""}


@pytest_twisted.ensureDeferred
async def test_avatar(web_server, db_conn, alice, bob):
    web = cf.listener_client(web_server, db_conn, alice)
    picture = (await send_picture(web, audio.make_cover("red"))).json
    assert (await web.patch("/api/v1/users/alice/", json_body={"avatar": picture["uuid"]})).code == 200
    other = Subsonic(web_server, bob)
    avatar = await _get(other, "getAvatar", username="alice")
    assert avatar.code == 200 and avatar.header("content-type") == "image/jpeg" and len(avatar.body) > 100
    assert (await _get(Subsonic(web_server, alice), "getAvatar")).body == avatar.body  # one's own by default
    assert await _error(other, "getAvatar", username="bob") == 70
    assert await _error(other, "getAvatar", username="nobody") == 70
    assert (await other.ok("getUser", username="bob"))["user"].get("avatarLastChanged") is None
    assert (await Subsonic(web_server, alice).ok("getUser"))["user"]["avatarLastChanged"].endswith("Z")


def _port(server) -> int:
    return int(server.base.rsplit(":", 1)[1])


@pytest_twisted.ensureDeferred
async def test_py_sonic_stream_and_cover(web_server, db_conn, alice, ids, tmp_path):
    original = _file(web_server.ctx.settings, db_conn, ids["first"])

    def session():
        conn = libsonic.Connection("http://127.0.0.1", "alice", alice["subsonic_api_token"], _port(web_server))
        raw = conn.stream(ids["first"]).read()
        transcoded = conn.stream(ids["second"], maxBitRate=128).read()
        cover = conn.getCoverArt(ids["dusk"], size=60).read()
        assert conn.star(sids=[ids["abend"]])
        assert conn.scrobble(ids["abend"])
        return raw, transcoded, cover

    raw, transcoded, cover = await deferToThread(session)
    assert raw == original
    assert probe(transcoded, tmp_path)[0] == "mp3"
    assert Image.open(io.BytesIO(cover)).size == (50, 50)  # the nearest crop size
    song = (await Subsonic(web_server, alice).ok("getSong", id=ids["abend"]))["song"]
    assert song["starred"] and song["playCount"] == 1
