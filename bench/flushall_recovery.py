"""Redis losing its data in the middle of a burst of imports: how long until the work resumes and ends.

Generates N tagged files (bench/import_files.py), starts a real daemon (`twistd -n funkwhale`, role all: web,
scheduler and the worker pool, embedded PostgreSQL and Redis), registers N pending in-place uploads with their
durable `music.process_upload` tasks and pushes the messages at once. Once a quarter of them are done, FLUSHALL
empties Redis (the ready list, the workers' in-flight lists, the marker); the bench then watches, every 0.05 s,
when the messages are back in Redis (the scheduler's `tasks.recover`, every 5 s, or a worker's heartbeat, every
10 s, finds the marker gone and pushes every unfinished durable task again) and when the last task is done. A
second run without the flush gives the baseline drain time.
Run: .venv/bin/python bench/flushall_recovery.py [N]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from daemon import free_port, launch, stop  # noqa: E402
from import_files import generate  # noqa: E402
from worker_pool import finished, seed  # noqa: E402

from funkwhale.db.pool import connect  # noqa: E402
from funkwhale.embedded import EmbeddedRedis  # noqa: E402
from funkwhale.tasks.queue import MARKER, ready_key  # noqa: E402

POLL = 0.05


def run(work: Path, music: Path, files: list[Path], flush: bool) -> dict[str, Any]:
    """Seconds from the push: `flushed` (FLUSHALL), `requeued` (the messages back in Redis), `drained` (the last
    task done); `done_at_flush`, and `imported` uploads."""
    import redis

    data = work / ("data-flush" if flush else "data-baseline")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FUNKWHALE_")},
        "FUNKWHALE_DATA_DIR": str(data),
        "FUNKWHALE_MUSIC_DIRECTORIES": str(music),
        "FUNKWHALE_LOG_LEVEL": "warn",
    }
    daemon, _ = launch(work, free_port(), env)
    try:
        database_url, messages = seed(env, files)
        queue = redis.Redis(unix_socket_path=str(EmbeddedRedis(data).socket_path))
        conn = connect(database_url)
        conn.autocommit = True
        t0 = time.monotonic()
        queue.lpush(ready_key("default"), *messages)
        result: dict[str, Any] = {"flushed": None, "requeued": None, "done_at_flush": None}
        while True:
            now = time.monotonic() - t0
            done = finished(conn)[0]
            if done == len(messages):
                result["drained"] = now
                break
            if flush and result["flushed"] is None and done >= len(messages) // 4:
                queue.flushall()
                result["flushed"], result["done_at_flush"] = time.monotonic() - t0, done
            elif result["flushed"] is not None and result["requeued"] is None and queue.exists(MARKER):
                result["requeued"] = now
            if now > 1800:
                raise SystemExit("gave up after 30 minutes")
            time.sleep(POLL)
        result["imported"] = finished(conn)[1]
        conn.close()
    finally:
        stop(daemon)
    return result


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    work = Path(tempfile.mkdtemp(prefix="fw-bench-flush-"))
    music = work / "music"
    music.mkdir()
    try:
        files = generate(music, count)
        print(f"{len(files)} files, {os.cpu_count()} cores; role all (worker pool 1,2), each run a fresh instance")
        baseline = run(work, music, files, flush=False)
        print(f"baseline: {count} imports drained in {baseline['drained']:.1f} s ({baseline['imported']} imported)")
        lost = run(work, music, files, flush=True)
        print(
            f"FLUSHALL at {lost['flushed']:.1f} s ({lost['done_at_flush']} of {count} done): messages back in Redis "
            f"{lost['requeued'] - lost['flushed']:.1f} s later; drained at {lost['drained']:.1f} s "
            f"({lost['imported']} imported), {lost['drained'] - baseline['drained']:+.1f} s against the baseline"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
