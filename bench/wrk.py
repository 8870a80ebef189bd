"""A pass of wrk (a load generator in C, `apt install wrk`) beside the benches' own Python clients: the Python
client spends ~0.3 ms of CPU per request on the same 2 cores, and its 16 threads share one GIL, which shows in its
p99; wrk spends ~0.01 ms and keeps its connections busy. None when wrk is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess

SECONDS = 8


def wrk(port: int, path: str, cookie: str, concurrency: int = 16) -> tuple[int, float, float, float] | None:
    """(requests, requests/s, p50 ms, p99 ms) of GET `path` over `concurrency` keep-alive connections for
    SECONDS, or None without wrk; SystemExit when any answer is not a 2xx."""
    if shutil.which("wrk") is None:
        return None
    command = ["wrk", "-t2", f"-c{concurrency}", f"-d{SECONDS}s", "--latency", f"http://127.0.0.1:{port}{path}"]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk: {path} answered non-2xx:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {q: _ms(v) for q, v in re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M)}
    return requests, rate, latency["50"], latency["99"]


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
