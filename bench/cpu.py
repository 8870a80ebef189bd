"""Where a benchmark's CPU goes: seconds of CPU used by the daemon's processes, PostgreSQL, Redis and the client.

On 2 cores the four share the machine, so a request rate is bounded by the sum of what each spends per request:
`CpuSplit` prints that sum and its parts beside the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _by_path(path: Path) -> list[psutil.Process]:
    """The processes whose command line names `path` (an embedded server's data directory), and their children."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if any(str(path) in part for part in process.info["cmdline"] or ()):
            found.extend(_tree(process))
    return found


def _cpu(processes: list[psutil.Process]) -> dict[int, float]:
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


class CpuSplit:
    """`with split: ...` records the CPU seconds each group of processes spent inside the block."""

    def __init__(self, daemon_pid: int, servers_dir: Path) -> None:
        self.groups: dict[str, Callable[[], list[psutil.Process]]] = {
            "daemon": lambda: _tree(psutil.Process(daemon_pid)),
            "PG": lambda: _by_path(servers_dir / "postgres"),
            "Redis": lambda: _by_path(servers_dir / "redis"),
            "client": lambda: [psutil.Process()],
        }
        self.spent: dict[str, float] = {}

    def __enter__(self) -> CpuSplit:
        self._start = {name: _cpu(find()) for name, find in self.groups.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        for name, find in self.groups.items():
            end, start = _cpu(find()), self._start[name]
            self.spent[name] = sum(seconds - start.get(pid, 0.0) for pid, seconds in end.items())

    def per_request(self, requests: int) -> str:
        """`CPU/req 4.9 ms = daemon 2.1 + PG 2.3 + Redis 0.1 + client 0.4`."""
        parts = {name: seconds * 1000 / requests for name, seconds in self.spent.items()}
        detail = " + ".join(f"{name} {ms:.1f}" for name, ms in parts.items())
        return f"CPU/req {sum(parts.values()):.1f} ms = {detail}"
