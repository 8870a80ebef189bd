"""Two real instances in the test reactor, federating over HTTPS: A on 127.0.0.2, B on 127.0.0.3.

Each has its own database (the session's cluster, a second database migrated once), its own Redis database
number and its own media directory; both trust a throw-away CA through SSL_CERT_FILE, and may reach loopback
peers (FUNKWHALE_EXTERNAL_REQUESTS_ALLOW_PRIVATE_NETWORKS). Use the `peers` fixture:

    async def test_something(peers):
        a, b = peers.a, peers.b          # RunningServer, with .base (https://127.0.0.2:PORT) and .ctx
        alice = await peers.user(a, "alice")   # an ApiClient logged in as a new account
"""

from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import pytest_twisted
import redis as redis_sync

from funkwhale.config import Settings
from funkwhale.db import schema

from .client import ApiClient
from .tls_helpers import Pki, make_pki

HOST_A, HOST_B = "127.0.0.2", "127.0.0.3"
PEER_DB = "fw_peer"


def _with_dbname(url: str, dbname: str) -> str:
    """The URL of another database of the same server (`postgresql://user@host/NAME?...`)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def peer_database(servers) -> str:
    """A second database of the session's cluster, migrated once; B's."""
    conn = psycopg2.connect(servers[0])
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {PEER_DB}")
        cur.execute(f"CREATE DATABASE {PEER_DB}")
    conn.close()
    url = _with_dbname(servers[0], PEER_DB)
    schema.upgrade(url)
    return url


@pytest.fixture(scope="session")
def peer_pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("peer-pki"), ips=(HOST_A, HOST_B))


@dataclass
class Peers:
    a: Any  # conftest.RunningServer
    b: Any
    password: str = "S3cret-pass!"

    async def user(self, server: Any, username: str) -> ApiClient:
        """A new account on `server` (signed up over its API), logged in."""
        client = server.client()
        await client.signup(username, self.password)
        return client


def _settings(base: Settings, host: str, port: int, database_url: str, redis_db: int, root: Path, pki: Pki) -> Settings:
    root.mkdir(parents=True, exist_ok=True)
    return dataclasses.replace(
        base,
        data_dir=str(root),
        media_root=str(root / "media"),
        listen=f"ssl:{port}:interface={host}:privateKey={pki.key}:certKey={pki.cert}",
        hostname=f"{host}:{port}",
        protocol="https",
        database_url=database_url,
        redis_url=f"{base.redis_url}?db={redis_db}",
        external_requests_allow_private_networks=True,
    )


@pytest_twisted.async_yield_fixture
async def peers(settings, servers, peer_database, peer_pki, tmp_path, monkeypatch):
    from .conftest import empty_database, start_server

    empty_database(peer_database)
    redis_sync.Redis(unix_socket_path=servers[1].removeprefix("unix://"), db=1).flushdb()
    monkeypatch.setenv("SSL_CERT_FILE", str(peer_pki.ca))
    port_a, port_b = free_port(HOST_A), free_port(HOST_B)
    ca = str(peer_pki.ca)
    a = await start_server(_settings(settings, HOST_A, port_a, servers[0], 0, tmp_path / "a", peer_pki), ca)
    b = await start_server(_settings(settings, HOST_B, port_b, peer_database, 1, tmp_path / "b", peer_pki), ca)
    try:
        yield Peers(a, b)
    finally:
        await b.service.stopService()
        await a.service.stopService()
