"""Data migrations, run on a scratch database of the session's PostgreSQL."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from alembic import command

from funkwhale.db import schema
from funkwhale.music import sources


@pytest.fixture
def scratch_url(servers):
    """An empty database beside the test database, dropped afterwards."""
    admin = psycopg2.connect(servers[0])
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS fw_migrations")
        cur.execute("CREATE DATABASE fw_migrations")
    yield urlunsplit(urlsplit(servers[0])._replace(path="/fw_migrations"))
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE fw_migrations WITH (FORCE)")
    admin.close()


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
