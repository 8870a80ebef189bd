"""The worker pool, as an operator sees it: real daemons, their child processes counted from /proc."""

from __future__ import annotations

import os
import re
import shutil
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from funkwhale.config import ConfigError, Settings, load_settings, to_environ
from funkwhale.tasks.pool import MAX_WAIT, Load, decide

from .audio import make_audio
from .test_daemon import Daemon, _scratch, at_start, clean_env, post_upload, upload_column, wait_for

HOLD_TASK = '''
import os
from pathlib import Path

from twisted.internet.task import deferLater

from funkwhale.tasks.registry import task


@task("test.hold")
async def hold(ctx, folder, n):
    """Writes start-N-PID, waits until the file `release` exists, then writes done-N."""
    folder = Path(folder)
    (folder / f"start-{n}-{os.getpid()}").touch()
    while not (folder / "release").exists():
        await deferLater(ctx.clock, 0.1, lambda: None)
    (folder / f"done-{n}").touch()
'''


def workers_of(daemon: Daemon) -> set[int]:
    """The pids of the daemon's worker processes: its children running `funkwhale --role worker`."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == daemon.proc.pid and b"funkwhale" in cmdline and b"worker" in cmdline:
            found.add(int(proc.name))
    return found


def alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A short temporary folder (the embedded Redis socket lives in it), as test_daemon's `tmp_path`."""
    root = _scratch()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.kill()


# The pool looks at the queues every 0.5 s instead of 2 s, and adds a process for a message that waited 2 s
# instead of 10 s: the same decisions, sooner.
QUICK_POOL = "import funkwhale.tasks.pool as pool\npool.SAMPLE_EVERY = 0.5\npool.MAX_WAIT = 2.0\n"


@pytest.fixture
def hold(scratch) -> tuple[Path, dict[str, str]]:
    """A folder for the test task's marks, and an environment registering `test.hold` in the daemon and its
    workers, with QUICK_POOL (through sitecustomize, as in test_daemon)."""
    (scratch / "fw_pool_test_tasks.py").write_text(HOLD_TASK)
    hooks = at_start(
        scratch,
        QUICK_POOL
        + "import funkwhale.tasks.registry\nfunkwhale.tasks.registry.TASK_MODULES.append('fw_pool_test_tasks')\n",
    )
    marks = scratch / "marks"
    marks.mkdir()
    return marks, hooks


def embedded(data_dir: Path) -> tuple[str, Any]:
    """The database URL and a Redis client of the daemon's embedded servers, once they answer."""
    import redis

    from funkwhale.embedded import EmbeddedRedis

    from .test_daemon import embedded_dsn

    wait_for(lambda: (data_dir / "postgres" / "postmaster.pid").exists(), "the embedded PostgreSQL")
    server = EmbeddedRedis(data_dir)
    wait_for(lambda: server.running, "the embedded Redis")  # a bare PING: redis-py retries for seconds
    return embedded_dsn(data_dir), redis.Redis(unix_socket_path=str(server.socket_path))


def enqueue_holds(daemon: Daemon, servers: tuple[str, Any], marks: Path, count: int) -> list[str]:
    """Queue `count` durable test.hold tasks, once each running worker process has started: the first one's check
    for a Redis that lost its data (after its consumers are registered) would push them a second time; their task
    ids."""
    from funkwhale.db.pool import connect
    from funkwhale.tasks.queue import Message, ready_key
    from funkwhale.tasks.store import insert_task_txn

    def started() -> bool:
        pids = workers_of(daemon)
        logged = {int(pid) for pid in re.findall(r"worker: \d+ consumer\(s\) on .*\(pid (\d+)\)", daemon.output())}
        return bool(pids) and pids <= logged

    database_url, queue = servers
    wait_for(started, "the worker processes to start")
    conn = connect(database_url)
    messages = []
    try:
        with conn, conn.cursor() as cur:
            for n in range(count):
                message = Message("test.hold", [str(marks), n], task_id=str(uuid.uuid4()))
                insert_task_txn(cur, uuid.UUID(message.task_id), message.task, "default", message.args, 0)
                messages.append(message)
    finally:
        conn.close()
    queue.lpush(ready_key("default"), *(m.encode() for m in messages))
    return [m.task_id for m in messages if m.task_id]


def task_rows(servers: tuple[str, Any], ids: list[str]) -> dict[str, dict]:
    from funkwhale.db.pool import connect

    conn = connect(servers[0])
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT id::text, status, attempts FROM task WHERE id::text = ANY(%s)", (ids,))
            return {row["id"]: row for row in cur.fetchall()}
    finally:
        conn.close()


def test_a_worker_under_load_grows_to_its_maximum_and_shrinks_back(scratch, daemons, hold):
    marks, env = hold
    data_dir = scratch / "data"
    daemon = Daemon(
        data_dir,
        env=clean_env(
            **env,
            FUNKWHALE_WORKER_PROCESSES="1,3",
            FUNKWHALE_WORKER_CONCURRENCY="1",
            FUNKWHALE_WORKER_IDLE_TIMEOUT="1",
        ),
        args=("--role", "worker"),
    )
    daemons.append(daemon)
    wait_for(lambda: len(workers_of(daemon)) == 1, "the first worker process")
    seen: set[int] = set()

    def count(n: int) -> bool:
        pids = workers_of(daemon)
        seen.update(pids)
        assert len(pids) <= 3, daemon.output()
        return len(pids) == n

    servers = embedded(data_dir)
    ids = enqueue_holds(daemon, servers, marks, 10)
    wait_for(lambda: count(3), "three worker processes")
    wait_for(lambda: len({p.name.rsplit("-", 1)[1] for p in marks.glob("start-*")}) == 3, "three running tasks")

    (marks / "release").touch()
    wait_for(lambda: len(list(marks.glob("done-*"))) == 10, "every task to finish")
    wait_for(lambda: count(1), "the pool to shrink back to one process")
    assert {row["status"] for row in task_rows(servers, ids).values()} == {"done"}
    output = daemon.output()
    assert re.search(r"worker pool: 1 -> 2 process\(es\): \d+ message\(s\) ready, over 1 per process", output)
    assert "worker pool: 3 -> 2 process(es): worker-" in output and "worker pool: 2 -> 1 process(es)" in output
    assert "exited unexpectedly" not in output  # retired, not dead

    assert daemon.stop() == -signal.SIGTERM
    assert not any(alive(pid) for pid in seen)


def test_an_idle_instance_runs_no_worker_process_and_starts_one_when_an_upload_is_queued(scratch, daemons):
    """Role all keeps 0 to 2 worker processes: none while nothing is queued, one as soon as an import is, retired
    once idle; an upload queued after that is imported by a new one."""
    data_dir = scratch / "data"
    daemon = Daemon(data_dir, env=clean_env(**at_start(scratch, QUICK_POOL), FUNKWHALE_WORKER_IDLE_TIMEOUT="1"))
    daemons.append(daemon)
    daemon.wait_ready()
    assert workers_of(daemon) == set()
    song = make_audio(scratch, "song", "mp3", title="Song", artist="Artist", album="Album").read_bytes()
    for n in range(2):
        upload = post_upload(daemon, data_dir, f"listener{n}", song, import_status="pending")
        wait_for(lambda u=upload: upload_column(data_dir, u, "import_status") == "finished", "the upload's import")
        wait_for(lambda: workers_of(daemon) == set(), "the idle worker process to be retired")
    output = daemon.output()
    assert output.count("worker pool: 0 -> 1 process(es): 1 message(s) ready, no process running") == 2, output
    assert output.count("worker pool: 1 -> 0 process(es): worker-1 idle") == 2
    assert daemon.stop() == -signal.SIGTERM


def test_a_message_waiting_behind_busy_workers_adds_a_process(scratch, daemons, hold):
    marks, env = hold
    data_dir = scratch / "data"
    daemon = Daemon(
        data_dir,
        env=clean_env(**env, FUNKWHALE_WORKER_PROCESSES="1,2", FUNKWHALE_WORKER_CONCURRENCY="1"),
        args=("--role", "worker"),
    )
    daemons.append(daemon)
    wait_for(lambda: len(workers_of(daemon)) == 1, "the first worker process")
    enqueue_holds(daemon, embedded(data_dir), marks, 2)  # one runs, one waits: no backlog over 1 per process
    wait_for(lambda: len(workers_of(daemon)) == 2, "a second worker process")
    wait_for(lambda: len(list(marks.glob("start-*"))) == 2, "the waiting task to start")
    assert re.search(r"worker pool: 1 -> 2 process\(es\): the next message waited \d+ s", daemon.output())
    (marks / "release").touch()
    assert daemon.stop() == -signal.SIGTERM


def test_a_killed_worker_process_is_replaced_and_its_task_runs_again(scratch, daemons, hold):
    marks, env = hold
    data_dir = scratch / "data"
    daemon = Daemon(data_dir, env=clean_env(**env, FUNKWHALE_WORKER_PROCESSES="2", FUNKWHALE_WORKER_CONCURRENCY="1"))
    daemons.append(daemon)
    daemon.wait_ready()
    wait_for(lambda: len(workers_of(daemon)) == 2, "two worker processes")
    servers = embedded(data_dir)
    (task_id,) = enqueue_holds(daemon, servers, marks, 1)
    wait_for(lambda: any(marks.glob("start-0-*")), "the task to start")
    (started,) = marks.glob("start-0-*")
    victim = int(started.name.rsplit("-", 1)[1])
    assert victim in workers_of(daemon)

    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(workers_of(daemon) - {victim}) == 2, "a new worker process in place of the killed one")
    wait_for(lambda: len(list(marks.glob("start-0-*"))) == 2, "the task to start again")
    (marks / "release").touch()
    wait_for(lambda: (marks / "done-0").exists(), "the task to finish")
    again = {int(p.name.rsplit("-", 1)[1]) for p in marks.glob("start-0-*")} - {victim}
    assert again <= workers_of(daemon)
    wait_for(lambda: task_rows(servers, [task_id])[task_id]["status"] == "done", "the task row to be done")
    assert task_rows(servers, [task_id])[task_id]["attempts"] == 2
    assert "exited unexpectedly; 1 message(s) back on the queue; restarting it" in daemon.output()

    children = workers_of(daemon)
    assert daemon.stop() == -signal.SIGTERM
    assert not any(alive(pid) for pid in children)


def scrape(base: str, token: str) -> dict[tuple[str, tuple], float]:
    """The daemon's /metrics, parsed by prometheus_client: {(name, sorted labels): value}."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        text = resp.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_web_process_reports_the_tasks_its_worker_processes_ran(scratch, daemons, hold):
    """Worker processes are children with registries of their own: their runs reach /metrics through Redis."""
    marks, env = hold
    token = "metrics-token-0123456789"
    settings = {"FUNKWHALE_METRICS": "true", "FUNKWHALE_METRICS_TOKEN": token}
    daemon = Daemon(scratch / "data", env=clean_env(**env, **settings, FUNKWHALE_WORKER_PROCESSES="2"))
    daemons.append(daemon)
    daemon.wait_ready()
    wait_for(lambda: len(workers_of(daemon)) == 2, "two worker processes")
    enqueue_holds(daemon, embedded(scratch / "data"), marks, 3)
    wait_for(lambda: len(list(marks.glob("start-*"))) == 3, "the tasks to start")
    (marks / "release").touch()
    runs = ("funkwhale_tasks_total", (("outcome", "success"), ("task", "test.hold")))
    wait_for(lambda: scrape(daemon.base, token).get(runs) == 3, "the three runs in the web process's /metrics")
    samples = scrape(daemon.base, token)
    assert samples[("funkwhale_task_duration_seconds_count", (("task", "test.hold"),))] == 3
    processes = ("funkwhale_worker_processes", ())  # both children's consumers, once both have started
    wait_for(lambda: scrape(daemon.base, token).get(processes) == 2, "two worker processes in /metrics")
    assert samples[("funkwhale_queue_messages", (("queue", "default"), ("state", "ready")))] == 0
    assert daemon.stop() == -signal.SIGTERM


def test_worker_processes_default_by_role_and_are_checked():
    assert load_settings({}).worker_processes == (0, 2)
    assert load_settings({"FUNKWHALE_ROLE": "worker"}).worker_processes == (1, max(1, os.cpu_count() or 1))
    assert load_settings({"FUNKWHALE_ROLE": "web"}).worker_processes == (0, 0)
    assert load_settings({"FUNKWHALE_WORKER_PROCESSES": "2, 5"}).worker_processes == (2, 5)
    assert load_settings({"FUNKWHALE_WORKER_PROCESSES": "3"}).worker_processes == (3, 3)
    assert load_settings({"FUNKWHALE_WORKER_PROCESSES": "0"}).worker_processes == (0, 0)
    assert Settings().worker_processes == (0, 0)  # built in-process (the tests' server): the worker runs inside
    for bad in ("4,2", "-1", "1,2,3", "many", ""):
        with pytest.raises(ConfigError, match="FUNKWHALE_WORKER_PROCESSES"):
            load_settings({"FUNKWHALE_WORKER_PROCESSES": bad})


def test_a_worker_process_gets_back_every_setting_through_its_environment():
    settings = load_settings(
        {
            "FUNKWHALE_DATABASE_URL": "postgresql://fw@db/fw",
            "FUNKWHALE_REDIS_URL": "unix:///run/redis.sock",
            "FUNKWHALE_TRUSTED_PROXIES": "10.0.0.0/8,::1",
            "FUNKWHALE_UMASK": "027",
            "FUNKWHALE_CHECK_MIGRATIONS": "false",
            "FUNKWHALE_WORKER_PROCESSES": "2,6",
            "FUNKWHALE_SECRET_KEY": "k",
        }
    )
    assert load_settings(to_environ(settings)) == settings


@pytest.mark.parametrize(
    ("load", "step"),
    [
        (Load(1, 5, 0, {}), ("add", "", "5 message(s) ready, over 4 per process")),
        (Load(1, 4, 0, {}), None),
        (Load(1, 1, MAX_WAIT, {}), ("add", "", f"the next message waited {MAX_WAIT:.0f} s")),
        (Load(3, 100, MAX_WAIT, {}), None),  # at the maximum
        (Load(0, 1, 0, {}), ("add", "", "1 message(s) ready, no process running")),
        (Load(2, 0, 0, {"worker-1": 40, "worker-2": 31}), ("retire", "worker-1", "worker-1 idle for 40 s")),
        (Load(2, 0, 0, {"worker-1": 29}), None),  # not idle long enough
        (Load(2, 1, 0, {"worker-1": 40}), None),  # something waits
        (Load(1, 0, 0, {"worker-1": 40}), None),  # at the minimum
    ],
)
def test_each_sample_adds_or_retires_at_most_one_process(load, step):
    assert decide(load, low=1, high=3, per_process=4, idle_timeout=30) == step


def test_sigterm_stops_every_worker_process_and_their_unfinished_tasks_go_back_on_the_queue(
    scratch, daemons, hold, servers, clean
):
    import redis

    from funkwhale.tasks.queue import ready_key

    marks, env = hold
    database_url, redis_url = servers
    daemon = Daemon(
        scratch / "data",
        env=clean_env(
            **env,
            FUNKWHALE_DATABASE_URL=database_url,
            FUNKWHALE_REDIS_URL=redis_url,
            FUNKWHALE_WORKER_PROCESSES="2",
            FUNKWHALE_WORKER_CONCURRENCY="1",
            FUNKWHALE_SHUTDOWN_TIMEOUT="1",
        ),
        args=("--role", "worker"),
    )
    daemons.append(daemon)
    wait_for(lambda: len(workers_of(daemon)) == 2, "two worker processes")
    queue = redis.Redis(unix_socket_path=redis_url.removeprefix("unix://"))
    ids = enqueue_holds(daemon, (database_url, queue), marks, 2)
    wait_for(lambda: len({p.name.rsplit("-", 1)[1] for p in marks.glob("start-*")}) == 2, "a task in each process")
    children = workers_of(daemon)

    assert daemon.stop() == -signal.SIGTERM
    assert not any(alive(pid) for pid in children)
    assert queue.llen(ready_key("default")) == 2  # both given back by their worker, not lost
    assert {row["status"] for row in task_rows((database_url, queue), ids).values()} == {"running"}
    assert "exited unexpectedly" not in daemon.output()
