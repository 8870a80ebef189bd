"""The worker pool under a burst of imports: how fast it grows and shrinks, and import throughput with 1 and 2
worker processes.

Generates N tagged files (bench/import_files.py), then for each run starts a fresh `twistd funkwhale --role worker`
on the embedded servers, registers N pending in-place uploads with their durable `music.process_upload` tasks,
pushes all the messages at once and watches, every 0.1 s, the daemon's worker processes (its children, seen in
/proc) and the finished tasks. Runs: the pool `1,2` (the worker role's default on 2 cores; growth, drain and
shrink after FUNKWHALE_WORKER_IDLE_TIMEOUT), then fixed pools of 1 and 2 processes (throughput).
Run: .venv/bin/python bench/worker_pool.py [N]
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from import_files import generate  # noqa: E402

from funkwhale.cli import database  # noqa: E402
from funkwhale.config import ensure_secret_key, load_settings  # noqa: E402
from funkwhale.db.pool import connect  # noqa: E402
from funkwhale.embedded import EmbeddedRedis  # noqa: E402
from funkwhale.music import formats  # noqa: E402
from funkwhale.music.importer.store import register_folder_uploads_txn  # noqa: E402
from funkwhale.tasks.queue import CONSUMERS, enqueue_durable_txn, ready_key  # noqa: E402

BIN = Path(sys.executable).parent


def workers_of(pid: int) -> int:
    """How many worker processes the daemon `pid` has (its children running `funkwhale --role worker`)."""
    count = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        count += ppid == pid and b"funkwhale" in cmdline and b"worker" in cmdline
    return count


def seed(env: dict[str, str], files: list[Path]) -> tuple[str, list[str]]:
    """A user, a library and one pending in-place upload per file, each with its durable import task (committed,
    not pushed): the database URL and the encoded messages."""
    subprocess.run(
        [str(BIN / "funkwhale"), "createuser", "bench", "--email", "bench@example.org"],
        input="bench-pass-1234\nbench-pass-1234\n",
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    settings = ensure_secret_key(load_settings(env))
    messages = []
    with database(settings) as (settings, conn), conn.cursor() as cur:
        cur.execute("SELECT actor_id FROM users WHERE username = 'bench'")
        actor = cur.fetchone()["actor_id"]
        new = uuid.uuid4()
        cur.execute(
            "INSERT INTO library (uuid, fid, actor_id, name) VALUES (%s, %s, %s, 'bench') RETURNING id",
            (new, f"{settings.base_url}/federation/music/libraries/{new}", actor),
        )
        library = cur.fetchone()["id"]
        new = []
        for path in files:
            stat = path.stat()
            new.append(
                {
                    "source": path.as_uri(),
                    "audio_file": None,
                    "original_name": path.name,
                    "size": stat.st_size,
                    "mimetype": formats.by_extension(path.suffix).mimetype,
                    "fs": {"path": str(path), "size": stat.st_size, "mtime": int(stat.st_mtime)},
                    "import_reference": "bench",
                }
            )
        for upload in register_folder_uploads_txn(cur, library, new, {}, settings.base_url):
            messages.append(enqueue_durable_txn(cur, "music.process_upload", upload).encode())
    assert settings.database_url is not None
    return settings.database_url, messages


def finished(conn: Any) -> tuple[int, int]:
    """(tasks done or dead, uploads finished)."""
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM task WHERE status IN ('done', 'dead')")
        tasks = cur.fetchone()["n"]
        cur.execute("SELECT count(*) AS n FROM upload WHERE import_status = 'finished'")
        return tasks, cur.fetchone()["n"]


def run(work: Path, music: Path, files: list[Path], processes: str, watch_shrink: bool) -> dict[str, Any]:
    """Seconds from the push until the pool reached its maximum (`grown`, None if it never did), the last task
    ended (`drained`), and the pool was back to its minimum after that (`shrunk`); uploads `imported`."""
    import redis

    data = work / f"data-{processes.replace(',', '-')}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FUNKWHALE_")},
        "FUNKWHALE_DATA_DIR": str(data),
        "FUNKWHALE_MUSIC_DIRECTORIES": str(music),
        "FUNKWHALE_WORKER_PROCESSES": processes,
        "FUNKWHALE_LOG_LEVEL": "warn",
    }
    log = open(work / f"daemon-{processes}.log", "wb")  # noqa: SIM115 (closed below, after the daemon)
    daemon = subprocess.Popen(
        [str(BIN / "twistd"), "-n", "--pidfile=", "funkwhale", "--role", "worker"],
        env=env,
        cwd=work,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        queue = redis.Redis(unix_socket_path=str(EmbeddedRedis(data).socket_path))
        deadline = time.monotonic() + 120
        while True:
            try:
                if queue.hlen(CONSUMERS):
                    break
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise SystemExit(f"the worker did not start; see {log.name}")
            time.sleep(0.1)
        low, high = (int(n) for n in (processes.split(",") * 2)[:2])
        database_url, messages = seed(env, files)
        conn = connect(database_url)
        conn.autocommit = True
        t0 = time.monotonic()
        queue.lpush(ready_key("default"), *messages)
        grown = drained = shrunk = None
        while drained is None or (watch_shrink and shrunk is None):
            now = time.monotonic() - t0
            count = workers_of(daemon.pid)
            if grown is None and count == high:
                grown = now
            if drained is None and finished(conn)[0] == len(messages):
                drained = now
            if drained is not None and count == low:
                shrunk = now
            if now > 1800:
                raise SystemExit(f"gave up after 30 minutes; see {log.name}")
            time.sleep(0.1)
        imported = finished(conn)[1]
        conn.close()
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
        log.close()
    return {"grown": grown, "drained": drained, "shrunk": shrunk, "imported": imported}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    work = Path(tempfile.mkdtemp(prefix="fw-bench-pool-"))
    music = work / "music"
    music.mkdir()
    try:
        files = generate(music, count)
        print(f"{len(files)} files, {os.cpu_count()} cores; each run on a fresh embedded instance, --role worker")
        burst = run(work, music, files, "1,2", watch_shrink=True)
        grown = "never" if burst["grown"] is None else f"{burst['grown']:.1f} s after the push"
        print(
            f"pool 1,2 under a burst of {count} imports: 1 -> 2 processes {grown}; queue drained at "
            f"{burst['drained']:.1f} s ({burst['imported']} imported); back to 1 process "
            f"{burst['shrunk'] - burst['drained']:.1f} s after that (FUNKWHALE_WORKER_IDLE_TIMEOUT 30 s)"
        )
        for processes in ("1", "2"):
            fixed = run(work, music, files, processes, watch_shrink=False)
            print(
                f"{processes} worker process(es), concurrency 4: {count / fixed['drained']:.0f} imports/s "
                f"({fixed['drained']:.1f} s, {fixed['imported']} imported)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
