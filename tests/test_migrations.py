"""Data migrations, each run on a scratch database of the session's PostgreSQL.

Migration 0007 moves what the old importer wrote on shared rows (album cover, track and album tags, a track's
license, copyright and comment) onto the uploads, in a database of its own migrated to 0006 first, and back."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from alembic import command

from funkwhale.db import schema
from funkwhale.db.pool import connect
from funkwhale.music import sources

from . import catalog_factories as cf


@pytest.fixture
def scratch_url(servers):
    """An empty database beside the test database, dropped afterwards."""
    name = f"mig_{secrets.token_hex(4)}"
    admin = psycopg2.connect(servers[0])
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield urlunsplit(urlsplit(servers[0])._replace(path=f"/{name}"))
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


@pytest.fixture
def old_database(scratch_url):
    """A new database at migration 0006: (dsn, autocommit connection)."""
    schema.upgrade(scratch_url, "0006")
    conn = connect(scratch_url)
    conn.autocommit = True
    yield scratch_url, conn
    conn.close()


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

    command.downgrade(schema.alembic_config(dsn), "0006")
    assert _rows(conn, "SELECT attachment_cover_id FROM album") == [{"attachment_cover_id": cover["id"]}]
    (restored,) = _rows(conn, "SELECT license, copyright, description FROM track WHERE id = %s", track["id"])
    assert restored == {"license": "cc0-1.0", "copyright": "(c) A", "description": "notes"}
    assert len(_rows(conn, "SELECT 1 FROM tagged_item")) == 3  # one per (object, tag) again


def _sources(url: str) -> list[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT source FROM upload ORDER BY id")
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def test_in_place_sources_written_raw_become_file_uris_and_back(scratch_url):
    schema.upgrade(scratch_url, "0005")
    raw = ["/music/What?.mp3", "/music/A#1.mp3", "/music/100%25 Pure.mp3", "/music/plain.mp3"]
    conn = psycopg2.connect(scratch_url)
    with conn, conn.cursor() as cur:
        cur.execute("INSERT INTO domain (name) VALUES ('x')")
        cur.execute("INSERT INTO actor (fid, preferred_username, domain) VALUES ('a', 'a', 'x') RETURNING id")
        cur.execute("INSERT INTO library (uuid, fid, name, actor_id) VALUES (gen_random_uuid(), 'l', 'l', %s)"
                    " RETURNING id", (cur.fetchone()[0],))  # fmt: skip
        library = cur.fetchone()[0]
        for n, path in enumerate(raw):
            cur.execute("INSERT INTO upload (uuid, fid, library_id, source) VALUES (gen_random_uuid(), %s, %s, %s)",
                        (f"u{n}", library, "file://" + path))  # fmt: skip
        cur.execute("INSERT INTO upload (uuid, fid, library_id, source) VALUES (gen_random_uuid(), 'up', %s,"
                    " 'upload://What?.mp3')", (library,))  # fmt: skip
    conn.close()

    schema.upgrade(scratch_url, "0006")
    migrated = _sources(scratch_url)
    assert [str(sources.local_path(uri)) for uri in migrated[:4]] == raw
    assert migrated[4] == "upload://What?.mp3"

    command.downgrade(schema.alembic_config(scratch_url), "0005")
    assert _sources(scratch_url) == ["file://" + path for path in raw] + ["upload://What?.mp3"]


def test_the_head_is_read_from_the_scripts_as_alembic_reads_it():
    from alembic.script import ScriptDirectory

    expected = ScriptDirectory.from_config(schema.alembic_config("postgresql://")).get_current_head()
    assert schema.head_revision() == expected


def test_a_database_at_the_head_is_checked_and_upgraded_without_loading_alembic(servers):
    """Alembic and SQLAlchemy cost every process about 20 MiB: only a migration loads them."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from funkwhale.db import schema\n"
        "schema.check_at_head(sys.argv[1])\n"
        "schema.upgrade(sys.argv[1])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'sqlalchemy', 'mako'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, servers[0]], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_the_daemon_migrates_in_a_child_process_and_never_loads_alembic_itself(scratch_url):
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from funkwhale.db import schema\n"
        "schema.upgrade_in_child(sys.argv[1])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'sqlalchemy'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, scratch_url], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stderr
    assert schema.current_revision(scratch_url) == schema.head_revision()
