"""Shared test fixtures: one embedded PostgreSQL and Redis per session, truncated between tests,
and the real service tree serving HTTP on an ephemeral port."""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import tempfile
from pathlib import Path

import psycopg2
import pytest
import pytest_twisted
import redis as redis_sync

from funkwhale.config import Settings
from funkwhale.db import schema
from funkwhale.embedded import EmbeddedServers

from .client import ApiClient

# fixtures of helper modules (Subsonic, federation peers, the S3 server): imported, ids
pytest_plugins = ["tests.subsonic_helpers", "tests.federation_pair", "tests.s3_server"]


@pytest.fixture(scope="session")
def servers():
    """The session's embedded servers, migrated once: (database_url, redis_url)."""
    root = Path(tempfile.mkdtemp(prefix="fw-test-"))
    embedded = EmbeddedServers(str(root), postgres=True, redis=True)
    embedded.start()
    _without_durability(root / "postgres", embedded.database_url)
    schema.upgrade(embedded.database_url)
    from . import catalog_factories

    catalog_factories.REDIS_URL = embedded.redis_url
    yield embedded.database_url, embedded.redis_url
    embedded.stop(only_started_here=False)
    shutil.rmtree(root, ignore_errors=True)


# A throwaway cluster need not survive a crash: without fsync, a commit and the checkpoint of each
# DROP DATABASE stop waiting for the disk (which other processes of the machine share). In postgresql.conf, not
# through ALTER SYSTEM: test_daemon checks what the daemon itself writes into postgresql.auto.conf.
NO_DURABILITY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _without_durability(pgdata: Path, database_url: str) -> None:
    with open(pgdata / "postgresql.conf", "a") as conf:
        conf.write("".join(f"{name} = {value}\n" for name, value in NO_DURABILITY.items()))
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_reload_conf()")
    finally:
        conn.close()


@functools.cache
def _emptying(database_url: str) -> str:
    """The statements that empty every table (but alembic_version) of the database and restart its sequences: a
    DELETE of each table with foreign keys unchecked (session_replication_role), which costs an empty table next to
    nothing where a TRUNCATE gives each table new files (~40 ms a test for every table)."""
    conn = psycopg2.connect(database_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
            tables = [row[0] for row in cur.fetchall()]
    finally:
        conn.close()
    return (
        "SET LOCAL session_replication_role = replica;"
        + "".join(f'DELETE FROM "{table}";' for table in tables)
        + "SELECT setval(format('%I', sequencename)::regclass, start_value, false) FROM pg_sequences"
        " WHERE schemaname = 'public' AND last_value IS NOT NULL"
    )


def empty_database(database_url: str) -> None:
    """Empty every table (but alembic_version) and restart every sequence of the database."""
    conn = psycopg2.connect(database_url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(_emptying(database_url))
    finally:
        conn.close()


def redis_client(url: str) -> redis_sync.Redis:
    return redis_sync.Redis(unix_socket_path=url.removeprefix("unix://"))


@pytest.fixture
def clean(servers):
    """Empty every table and Redis before the test."""
    empty_database(servers[0])
    redis_client(servers[1]).flushdb()


@pytest.fixture
def settings(servers, clean, tmp_path) -> Settings:
    return Settings(
        data_dir=str(tmp_path),
        listen="tcp:0:interface=127.0.0.1",
        hostname="test.funkwhale.local",
        protocol="http",
        database_url=servers[0],
        redis_url=servers[1],
        media_root=str(tmp_path / "media"),
        secret_key="test-secret-key",
        registration="open",
        worker_concurrency=2,
        db_pool_size=5,
    )


@pytest.fixture
def db_conn(servers, clean):
    """A synchronous connection for arranging and checking data in tests."""
    from funkwhale.db.pool import connect

    conn = connect(servers[0])
    conn.autocommit = True
    yield conn
    conn.close()


class RunningServer:
    def __init__(self, service, ctx, port, ca: str | None = None):
        self.service = service
        self.ctx = ctx
        self.port = port
        self.ca = ca
        scheme = "https" if ctx.settings.listen.startswith("ssl:") else "http"
        self.base = f"{scheme}://{port.getHost().host}:{port.getHost().port}" if port else None

    def client(self) -> ApiClient:
        return ApiClient(self.base, ca=self.ca)


async def start_server(settings: Settings, ca: str | None = None) -> RunningServer:
    """The service tree of `settings`; its web port is an ephemeral one on 127.0.0.1, or `settings.listen` (an
    ssl: description, whose CA is `ca`) when that names a port."""
    from twisted.internet import reactor
    from twisted.internet import ssl as tls

    from funkwhale.service import make_service

    ports = []

    def bind(site):
        if settings.listen.startswith("ssl:"):
            _, number, *pairs = settings.listen.split(":")
            options = dict(pair.split("=", 1) for pair in pairs)
            context = tls.DefaultOpenSSLContextFactory(options["privateKey"], options["certKey"])
            bound = reactor.listenSSL(int(number), site, context, interface=options["interface"])
        else:
            bound = reactor.listenTCP(0, site, interface="127.0.0.1")
        ports.append(bound)
        return bound

    top, ctx = make_service(settings, bind=bind)
    await top.startService()
    return RunningServer(top, ctx, ports[0] if ports else None, ca)


@pytest_twisted.async_yield_fixture
async def server(settings):
    """The whole service tree (web, worker, scheduler) on an ephemeral port."""
    running = await start_server(settings)
    yield running
    await running.service.stopService()


@pytest_twisted.async_yield_fixture
async def web_server(settings):
    """Only the web role: for tests that must not have a worker consuming tasks."""
    running = await start_server(dataclasses.replace(settings, role="web"))
    yield running
    await running.service.stopService()


@pytest.fixture
def alice(db_conn):
    """A listener with a local actor (no library yet)."""
    from . import catalog_factories as cf

    return cf.insert_listener(db_conn, "alice")


@pytest.fixture
def bob(db_conn):
    from . import catalog_factories as cf

    return cf.insert_listener(db_conn, "bob")


@pytest.fixture
def client(server) -> ApiClient:
    return server.client()


os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
