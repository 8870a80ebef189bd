"""Cold start and idle memory of the daemon on the embedded default.

Prints: seconds until the port answers on a fresh data dir (initdb + migrations) and on a restart, then, with
FUNKWHALE_WEB_PROCESSES=1 and =2, the idle memory after a short settle: resident (RSS) of the daemon, of its
Python children (the worker process, web processes), of PostgreSQL (all its processes) and of Redis, and the
proportional set size (PSS: shared pages split between the processes sharing them) of all of them together, the
figure that adds up.
Run: .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
from daemon import free_port, launch

ROOT = Path(__file__).resolve().parent.parent


def start(data_dir: Path, port: int, web_processes: int = 1) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "FUNKWHALE_WEB_PROCESSES": str(web_processes)}
    return launch(data_dir, port, env, "--data-dir", str(data_dir))


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def rss_mib(processes: list[psutil.Process]) -> float:
    total = 0
    for p in processes:
        try:
            total += p.memory_full_info().uss if p.pid != processes[0].pid else p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def servers_of(data_dir: Path) -> tuple[list[psutil.Process], list[psutil.Process]]:
    postgres, redis = [], []
    for p in psutil.process_iter(["cmdline", "name"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "postgres" in (p.info["name"] or "") and str(data_dir) in cmd:
            postgres = [p, *p.children(recursive=True)]
        elif "redis-server" in cmd and str(data_dir) in cmd:
            redis = [p]
    return postgres, redis


def pss_mib(processes: list[psutil.Process]) -> float:
    total = 0
    for p in processes:
        try:
            total += p.memory_full_info().pss
        except psutil.Error:
            pass
    return total / 2**20


def idle_memory(proc: subprocess.Popen, data_dir: Path, web_processes: int) -> None:
    time.sleep(8)  # the children start after the daemon answers
    daemon = psutil.Process(proc.pid)
    children = [p for p in daemon.children() if "python" in p.name()]
    postgres, redis = servers_of(data_dir)
    every = [daemon, *children, *postgres, *redis]
    print(f"FUNKWHALE_WEB_PROCESSES={web_processes}:")
    print(f"  idle RSS daemon:                                 {daemon.memory_info().rss / 2**20:.1f} MiB")
    print(
        f"  idle RSS its {len(children)} Python children (worker, web):     "
        f"{sum(p.memory_info().rss for p in children) / 2**20:.1f} MiB"
    )
    print(
        f"  idle memory PostgreSQL ({len(postgres)} processes, RSS of the postmaster + USS of the others): "
        f"{rss_mib(postgres):.1f} MiB"
    )
    print(f"  idle RSS Redis:                                  {rss_mib(redis):.1f} MiB")
    print(f"  idle PSS of all {len(every)} processes together:           {pss_mib(every):.1f} MiB")


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="fw-bench-"))
    port = free_port()
    try:
        proc, first = start(data_dir, port)
        stop(proc)
        proc, again = start(data_dir, port)
        print(f"cold start, fresh data dir (initdb + migrations): {first:.2f} s")
        print(f"start on an existing data dir:                     {again:.2f} s")
        idle_memory(proc, data_dir, 1)
        stop(proc)
        proc, _ = start(data_dir, port, 2)
        idle_memory(proc, data_dir, 2)
        stop(proc)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
