"""Cover art: pictures stored once per content, served whole and as cached square crops over HTTP."""

from __future__ import annotations

import dataclasses
import io
import uuid

import pytest
import pytest_twisted
from PIL import Image
from twisted.internet.defer import Deferred, gatherResults

from funkwhale import storage
from funkwhale.music import attachments
from funkwhale.music.importer.pipeline import process_upload
from funkwhale.music.metadata import find_folder_cover, read_metadata
from funkwhale.music.models import Picture

from . import catalog_factories as cf
from .audio import make_audio, make_cover
from .conftest import start_server
from .subsonic_helpers import upload_file
from .test_profile import send_picture


def two_colour_picture(width: int = 800, height: int = 600, fmt: str = "JPEG") -> bytes:
    """Red on the left half, blue on the right: a centre crop shows both."""
    image = Image.new("RGB", (width, height), "red")
    image.paste(Image.new("RGB", (width // 2, height), "blue"), (width // 2, 0))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


async def attachment_uuid(ctx, attachment_id: int) -> str:
    def select(txn):
        txn.execute("SELECT uuid FROM attachment WHERE id = %s", (attachment_id,))
        return str(txn.fetchone()["uuid"])

    return await ctx.db.run(select, desc="test")


@pytest_twisted.ensureDeferred
async def test_original_and_crops_over_http(web_server):
    ctx, client = web_server.ctx, web_server.client()
    data = two_colour_picture()
    picture_uuid = await attachment_uuid(ctx, await attachments.store_picture(ctx, Picture(data, "image/jpeg")))

    detail = await client.get(f"/api/v1/attachments/{picture_uuid}/")
    assert detail.code == 200, detail
    body = detail.json
    assert (body["uuid"], body["size"], body["mimetype"]) == (picture_uuid, len(data), "image/jpeg")
    assert body["creation_date"]
    base = f"http://test.funkwhale.local/api/v1/attachments/{picture_uuid}/proxy?next="
    assert body["urls"] == {
        "source": None,
        "original": base + "original",
        "medium_square_crop": base + "medium_square_crop",
        "large_square_crop": base + "large_square_crop",
    }

    original = await client.get(f"/api/v1/attachments/{picture_uuid}/proxy?next=original")
    assert original.code == 200
    assert original.body == data
    assert original.header("Content-Type") == "image/jpeg"
    assert "max-age=31536000" in original.header("Cache-Control")
    assert original.header("ETag")

    for name, side in (("small_square_crop", 50), ("medium_square_crop", 200), ("large_square_crop", 600)):
        crop = await client.get(f"/api/v1/attachments/{picture_uuid}/proxy/?next={name}")
        assert crop.code == 200, (name, crop)
        assert crop.header("Content-Type") == "image/jpeg"
        image = decode(crop.body)
        assert (image.format, image.size) == ("JPEG", (side, side))
        # the centre square of a red|blue picture is still red on the left and blue on the right
        left, right = image.getpixel((side // 8, side // 2)), image.getpixel((side - side // 8, side // 2))
        assert left[0] > 200 > left[2] and right[2] > 200 > right[0]
        again = await client.get(f"/api/v1/attachments/{picture_uuid}/proxy/?next={name}")
        assert again.body == crop.body and again.header("ETag") == crop.header("ETag")

    cached = sorted(p.name for p in storage.absolute(ctx.settings, "attachments").rglob("*.jpg"))
    checksum = cached[0].split(".")[0].split("-")[0]
    assert cached == [f"{checksum}-200.jpg", f"{checksum}-50.jpg", f"{checksum}-600.jpg", f"{checksum}.jpg"]


@pytest_twisted.ensureDeferred
async def test_unchanged_picture_answers_304(web_server):
    ctx, client = web_server.ctx, web_server.client()
    picture_uuid = await attachment_uuid(ctx, await attachments.store_picture(ctx, Picture(make_cover(), "")))
    url = f"/api/v1/attachments/{picture_uuid}/proxy?next=medium_square_crop"
    first = await client.get(url)
    second = await client.get(url, headers={"If-None-Match": first.header("ETag")})
    assert second.code == 304 and second.body == b""
    other = await client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.code == 200 and other.body == first.body


@pytest_twisted.ensureDeferred
async def test_same_bytes_are_stored_once(web_server, db_conn):
    ctx = web_server.ctx
    jpeg = make_cover("red")
    first = await attachments.store_picture(ctx, Picture(jpeg, "image/jpeg"))
    twice = await gatherResults(
        [Deferred.fromCoroutine(attachments.store_picture(ctx, Picture(jpeg, "image/jpeg"))) for _ in range(3)]
    )
    assert set(twice) == {first}
    png = make_cover("red", fmt="PNG")
    other = await attachments.store_picture(ctx, Picture(png, "image/jpeg"))  # the bytes decide the type
    assert other != first
    with db_conn.cursor() as cur:
        cur.execute("SELECT id, mimetype, size FROM attachment ORDER BY id")
        rows = cur.fetchall()
    assert [(r["id"], r["mimetype"], r["size"]) for r in rows] == [
        (first, "image/jpeg", len(jpeg)),
        (other, "image/png", len(png)),
    ]
    response = await web_server.client().get(f"/api/v1/attachments/{await attachment_uuid(ctx, other)}/proxy")
    assert response.header("Content-Type") == "image/png" and response.body == png


@pytest_twisted.ensureDeferred
async def test_unknown_attachments_and_bad_renditions(web_server):
    ctx, client = web_server.ctx, web_server.client()
    unknown = uuid.uuid4()
    for path in (f"/api/v1/attachments/{unknown}/", f"/api/v1/attachments/{unknown}/proxy?next=original",
                 "/api/v1/attachments/not-a-uuid/", "/api/v1/attachments/not-a-uuid/proxy"):  # fmt: skip
        response = await client.get(path)
        assert response.code == 404, (path, response)
        assert response.json["code"] == "not_found"
    picture_uuid = await attachment_uuid(ctx, await attachments.store_picture(ctx, Picture(make_cover(), "")))
    response = await client.get(f"/api/v1/attachments/{picture_uuid}/proxy?next=huge_crop")
    assert response.code == 400 and "next" in response.json


@pytest_twisted.ensureDeferred
async def test_corrupt_pictures_get_clear_errors(web_server, db_conn):
    ctx, client = web_server.ctx, web_server.client()
    with pytest.raises(attachments.InvalidImage):
        await attachments.store_picture(ctx, Picture(b"\xff\xd8\xff not really a jpeg", "image/jpeg"))
    broken = make_cover()[:200]  # a JPEG cut short: recognised, not decodable
    with pytest.raises(attachments.InvalidImage):
        await attachments.store_picture(ctx, Picture(broken, "image/jpeg"))

    # A stored file that went bad on disk: the original is served as it is, crops answer 422 every time.
    relative = "attachments/ba/d0/bad.jpg"
    path = storage.absolute(ctx.settings, relative)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage that is no picture")
    with db_conn.cursor() as cur:
        cur.execute(
            "INSERT INTO attachment (file, mimetype, size) VALUES (%s, 'image/jpeg', 26), (NULL, 'image/jpeg', 0),"
            " ('attachments/no/ne/missing.jpg', 'image/jpeg', 1), ('../../outside.jpg', 'image/jpeg', 1)"
            " RETURNING uuid",
            (relative,),
        )
        bad, remote, missing, outside = (str(row["uuid"]) for row in cur.fetchall())
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM attachment")
        assert cur.fetchone()["n"] == 4  # the invalid pictures above wrote nothing
    for _ in range(2):
        response = await client.get(f"/api/v1/attachments/{bad}/proxy?next=medium_square_crop")
        assert response.code == 422 and response.json["code"] == "invalid_image"
    original = await client.get(f"/api/v1/attachments/{bad}/proxy?next=original")
    assert original.code == 200 and original.body == b"garbage that is no picture"
    for uuid_ in (remote, missing, outside):
        for name in ("original", "large_square_crop"):
            response = await client.get(f"/api/v1/attachments/{uuid_}/proxy?next={name}")
            assert response.code == 404, (uuid_, name, response)


@pytest_twisted.ensureDeferred
async def test_resized_path_for_any_size(web_server):
    ctx = web_server.ctx
    picture_uuid = await attachment_uuid(ctx, await attachments.store_picture(ctx, Picture(two_colour_picture(), "")))
    for asked, side in ((100, 100), (5, 50), (5000, 600)):  # the nearest crop size, never enlarged past 600
        found = await attachments.resized_path(ctx, picture_uuid, asked)
        assert found.mimetype == "image/jpeg" and found.path is not None
        assert decode(found.path.read_bytes()).size == (side, side)
    found = await attachments.resized_path(ctx, picture_uuid, None)
    assert found.mimetype == "image/jpeg" and found.path is not None
    assert decode(found.path.read_bytes()).size == (800, 600)
    with pytest.raises(attachments.AttachmentNotFound):
        await attachments.resized_path(ctx, str(uuid.uuid4()), 100)


@pytest_twisted.ensureDeferred
async def test_concurrent_first_requests_get_whole_crops(web_server):
    ctx, client = web_server.ctx, web_server.client()
    picture_uuid = await attachment_uuid(ctx, await attachments.store_picture(ctx, Picture(two_colour_picture(), "")))
    url = f"/api/v1/attachments/{picture_uuid}/proxy?next=large_square_crop"
    responses = await gatherResults([Deferred.fromCoroutine(client.get(url)) for _ in range(6)])
    assert {r.code for r in responses} == {200}
    assert all(decode(r.body).size == (600, 600) for r in responses)
    leftovers = [p for p in storage.absolute(ctx.settings, "attachments").rglob("*") if p.name.startswith(".tmp")]
    assert leftovers == []


@pytest_twisted.ensureDeferred
async def test_transparent_png_and_folder_cover(web_server, tmp_path):
    ctx, client = web_server.ctx, web_server.client()
    image = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    music = tmp_path / "music"
    audio = make_audio(music, "song", "mp3", title="Song", artist="X")
    (music / "Cover.PNG").write_bytes(buffer.getvalue())
    attachment_id = await attachments.store_picture_file(ctx, find_folder_cover(audio))
    picture_uuid = await attachment_uuid(ctx, attachment_id)
    crop = await client.get(f"/api/v1/attachments/{picture_uuid}/proxy?next=medium_square_crop")
    decoded = decode(crop.body)
    assert decoded.mode == "RGB" and decoded.getpixel((100, 100)) == (255, 255, 255)  # white, not black


@pytest_twisted.ensureDeferred
async def test_embedded_cover_of_an_audio_file(web_server, tmp_path):
    ctx, client = web_server.ctx, web_server.client()
    cover = make_cover("green", size=(120, 120))
    meta = read_metadata(make_audio(tmp_path, "song", "flac", title="Song", artist="X", cover=cover))
    picture_uuid = await attachment_uuid(ctx, await attachments.store_picture(ctx, meta.cover))
    response = await client.get(f"/api/v1/attachments/{picture_uuid}/proxy?next=original")
    assert response.body == cover


@pytest_twisted.ensureDeferred
async def test_behind_nginx_answers_with_x_accel_redirect(settings):
    running = await start_server(dataclasses.replace(settings, role="web", reverse_proxy="nginx"))
    try:
        ctx, client = running.ctx, running.client()
        data = two_colour_picture()
        picture_uuid = await attachment_uuid(ctx, await attachments.store_picture(ctx, Picture(data, "")))
        original = await client.get(f"/api/v1/attachments/{picture_uuid}/proxy?next=original")
        crop = await client.get(f"/api/v1/attachments/{picture_uuid}/proxy?next=medium_square_crop")
    finally:
        await running.service.stopService()
    for response, suffix in ((original, ".jpg"), (crop, "-200.jpg")):
        assert response.code == 200 and response.body == b""
        assert response.header("Content-Type") == "image/jpeg"
        accel = response.header("X-Accel-Redirect")
        assert accel.startswith("/_protected/media/attachments/") and accel.endswith(suffix), accel
        relative = accel.removeprefix("/_protected/media/")
        assert storage.absolute(settings, relative).is_file()


def huge_png(side: int = 8000) -> bytes:
    """A small file of many pixels: one bit each (8000x8000, 64 megapixels, in a few kilobytes)."""
    buffer = io.BytesIO()
    Image.new("1", (side, side), 1).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest_twisted.ensureDeferred
async def test_pictures_of_too_many_pixels_are_refused(web_server, db_conn, tmp_path):
    """Before: a 64-megapixel PNG was stored, and each crop of it decoded 256 MB and more."""
    alice = cf.insert_listener(db_conn, "alice")
    client = cf.listener_client(web_server, db_conn, alice)
    refused = await send_picture(client, huge_png())
    assert refused.code == 400, refused
    [message] = refused.json["file"]
    assert message.startswith("The picture is too large: more than 16 megapixels"), message
    accepted = await send_picture(client, huge_png(4000))
    assert accepted.code == 201, accepted
    crop = await web_server.client().get(f"/api/v1/attachments/{accepted.json['uuid']}/proxy?next=large_square_crop")
    assert crop.code == 200 and decode(crop.body).size == (600, 600)

    # A cover: refused the same way, and an audio file that embeds one is imported without it.
    with pytest.raises(attachments.ImageTooLarge):
        await attachments.store_picture(web_server.ctx, Picture(huge_png(), "image/png"))
    library = cf.insert_library(db_conn, alice, "me")
    song = make_audio(tmp_path, "song", "mp3", title="Song", artist="X", album="Vast", cover=huge_png())
    upload = upload_file(web_server.ctx, db_conn, library, song)
    assert await process_upload(web_server.ctx, upload["id"]) == "finished"
    with db_conn.cursor() as cur:
        cur.execute("SELECT attachment_cover_id FROM album WHERE title = 'Vast'")
        assert cur.fetchone()["attachment_cover_id"] is None
        cur.execute("SELECT count(*) AS n FROM attachment")
        assert cur.fetchone()["n"] == 1  # the 4000x4000 picture only
