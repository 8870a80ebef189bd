"""Cold start and idle memory of the daemon on the embedded default.

Prints: seconds until the port answers on a fresh data dir (initdb + migrations) and on a restart, then, with
FUNKWHALE_WEB_PROCESSES=1 and =2, the idle memory after a short settle, per process (the daemon, its Python
children: web processes and any worker process, each PostgreSQL process, Redis): resident (RSS), proportional
(PSS: shared pages split between the processes sharing them) and unique (USS) set sizes from
/proc/PID/smaps_rollup, PSS summed per kind, and the PSS of all of them together, the figure that adds up.
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


def smaps(pid: int) -> dict[str, int]:
    """Rss, Pss, USS (Private_Clean + Private_Dirty) of one process in KiB, from /proc/PID/smaps_rollup."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0])
    return {"rss": fields["Rss"], "pss": fields["Pss"], "uss": fields["Private_Clean"] + fields["Private_Dirty"]}


def servers_of(data_dir: Path) -> tuple[list[psutil.Process], list[psutil.Process]]:
    postgres, redis = [], []
    for p in psutil.process_iter(["cmdline", "name"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "postgres" in (p.info["name"] or "") and str(data_dir) in cmd:
            postgres = [p, *p.children(recursive=True)]
        elif "redis-server" in cmd and str(data_dir) in cmd:
            redis = [p]
    return postgres, redis


def label(p: psutil.Process, daemon: psutil.Process) -> str:
    if p.pid == daemon.pid:
        return "daemon"
    cmd = p.cmdline()
    if "python" in p.name() or "twistd" in " ".join(cmd):
        return "child --role " + (cmd[cmd.index("--role") + 1] if "--role" in cmd else "?")
    if "redis" in " ".join(cmd):
        return "redis-server"
    return "postgres: " + " ".join(cmd)[:40]


def idle_memory(proc: subprocess.Popen, data_dir: Path, web_processes: int) -> None:
    time.sleep(8)  # the children start after the daemon answers
    daemon = psutil.Process(proc.pid)
    children = [p for p in daemon.children() if "python" in p.name()]
    postgres, redis = servers_of(data_dir)
    every = [daemon, *children, *postgres, *redis]
    print(f"FUNKWHALE_WEB_PROCESSES={web_processes}: idle memory per process (MiB)")
    print(f"  {'process':<48} {'RSS':>6} {'PSS':>6} {'USS':>6}")
    totals = {"rss": 0, "pss": 0, "uss": 0}
    groups: dict[str, dict[str, int]] = {}
    for p in every:
        try:
            m = smaps(p.pid)
            name = label(p, daemon)
        except (OSError, psutil.Error):
            continue
        print(f"  {name:<48} {m['rss'] / 1024:6.1f} {m['pss'] / 1024:6.1f} {m['uss'] / 1024:6.1f}")
        group = groups.setdefault(name.split(":")[0], {"rss": 0, "pss": 0, "uss": 0})
        for key in totals:
            totals[key] += m[key]
            group[key] += m[key]
    for name, g in groups.items():
        print(f"  = {name:<46} {'':>6} {g['pss'] / 1024:6.1f}")
    print(f"  PSS of all {len(every)} processes together: {totals['pss'] / 1024:.1f} MiB")


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
