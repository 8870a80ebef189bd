"""Migration 0006 moves what the old importer wrote on shared rows (album cover, track and album tags, a track's
license, copyright and comment) onto the uploads, in a database of its own migrated to 0005 first, and back."""

from __future__ import annotations

import secrets

import psycopg2
import pytest
from alembic import command

from funkwhale.db import schema
from funkwhale.db.pool import connect

from . import catalog_factories as cf


@pytest.fixture
def old_database(servers):
    """A new database at migration 0005: (dsn, autocommit connection)."""
    name = f"mig_{secrets.token_hex(4)}"
    admin = psycopg2.connect(servers[0])
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    dsn = servers[0].replace("/funkwhale?", f"/{name}?")
    schema.upgrade(dsn, "0005")
    conn = connect(dsn)
    conn.autocommit = True
    yield dsn, conn
    conn.close()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


def _rows(conn, sql: str, *params) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def test_existing_contributions_move_to_the_uploads(old_database):
    dsn, conn = old_database
    alice, bob = cf.insert_listener(conn, "alice"), cf.insert_listener(conn, "bob")
    private, public = cf.insert_library(conn, alice, "me"), cf.insert_library(conn, bob, "everyone")
    (cover,) = _rows(conn, "INSERT INTO attachment (actor_id) VALUES (%s) RETURNING id", alice["actor_id"])
    artist = cf.insert_artist(conn, "Shared")
    album = cf.insert_album(conn, artist, "Shared", attachment_cover_id=cover["id"])
    track = cf.insert_track(conn, artist, "Shared", album, license="cc0-1.0", copyright="(c) A", description="notes")
    alone = cf.insert_track(conn, artist, "Alone", album)
    a_upload, b_upload = cf.insert_upload(conn, private, track), cf.insert_upload(conn, public, track)
    b_alone = cf.insert_upload(conn, public, alone)
    cf.tag(conn, "track", track, "Secret")
    cf.tag(conn, "album", album, "Secret")
    cf.tag(conn, "artist", artist, "Rock")

    schema.upgrade(dsn)

    covers = {r["id"]: r["attachment_cover_id"] for r in _rows(conn, "SELECT id, attachment_cover_id FROM upload")}
    assert covers == {a_upload["id"]: cover["id"], b_upload["id"]: None, b_alone["id"]: None}  # Alice's picture
    assert _rows(conn, "SELECT attachment_cover_id FROM album") == [{"attachment_cover_id": None}]
    tagged = _rows(conn, "SELECT object_type, object_id, upload_id FROM tagged_item ORDER BY 1, 3 NULLS FIRST")
    assert [(r["object_type"], r["upload_id"]) for r in tagged] == [
        ("album", a_upload["id"]),
        ("album", b_upload["id"]),
        ("album", b_alone["id"]),
        ("artist", None),
        ("track", a_upload["id"]),
        ("track", b_upload["id"]),
    ]
    metadata = {r["id"]: r["metadata"] for r in _rows(conn, "SELECT id, metadata FROM upload")}
    assert metadata[a_upload["id"]] == {"license": "cc0-1.0", "copyright": "(c) A", "description": "notes"}
    assert metadata[b_upload["id"]] == {}
    (moved,) = _rows(conn, "SELECT license, copyright, description FROM track WHERE id = %s", track["id"])
    assert moved == {"license": None, "copyright": "", "description": ""}

    command.downgrade(schema.alembic_config(dsn), "0005")
    assert _rows(conn, "SELECT attachment_cover_id FROM album") == [{"attachment_cover_id": cover["id"]}]
    (restored,) = _rows(conn, "SELECT license, copyright, description FROM track WHERE id = %s", track["id"])
    assert restored == {"license": "cc0-1.0", "copyright": "(c) A", "description": "notes"}
    assert len(_rows(conn, "SELECT 1 FROM tagged_item")) == 3  # one per (object, tag) again
