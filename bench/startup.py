"""Cold start and idle memory of the daemon on the embedded default.

Prints: seconds until the port answers on a fresh data dir (initdb + migrations) and on a restart, then the idle
resident memory (RSS) of the daemon, of PostgreSQL (all its processes) and of Redis after a short settle.
Run: .venv/bin/python bench/startup.py
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
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
TWISTD = Path(sys.executable).parent / "twistd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data_dir: Path, port: int) -> tuple[subprocess.Popen, float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [
            str(TWISTD),
            "-n",
            "--pidfile=",
            "funkwhale",
            "--data-dir",
            str(data_dir),
            "--listen",
            f"tcp:{port}:interface=127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=data_dir,
    )
    url = f"http://127.0.0.1:{port}/api/v1/health/"
    while time.monotonic() - t0 < 120:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return proc, time.monotonic() - t0
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the daemon did not answer within 120 s")


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


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="fw-bench-"))
    port = free_port()
    try:
        proc, first = start(data_dir, port)
        stop(proc)
        proc, again = start(data_dir, port)
        time.sleep(5)
        daemon = psutil.Process(proc.pid)
        postgres, redis = servers_of(data_dir)
        print(f"cold start, fresh data dir (initdb + migrations): {first:.2f} s")
        print(f"start on an existing data dir:                     {again:.2f} s")
        print(f"idle RSS daemon:                                   {daemon.memory_info().rss / 2**20:.1f} MiB")
        print(
            f"idle memory PostgreSQL ({len(postgres)} processes, RSS of the postmaster + USS of the others): "
            f"{rss_mib(postgres):.1f} MiB"
        )
        print(f"idle RSS Redis:                                    {rss_mib(redis):.1f} MiB")
        stop(proc)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
