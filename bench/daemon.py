"""Starting the daemon for a benchmark: a free port, `twistd -n funkwhale` as a child, ready when it answers."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

TWISTD = Path(sys.executable).parent / "twistd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(cwd: Path, port: int, env: dict[str, str] | None = None, *options: str) -> tuple[subprocess.Popen, float]:
    """(the daemon, seconds until /api/v1/health/ answered 200); `options` go after `funkwhale` (--data-dir...)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [str(TWISTD), "-n", "--pidfile=", "funkwhale", *options, "--listen", f"tcp:{port}:interface=127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/api/v1/health/"
    while time.monotonic() - t0 < 120:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return proc, time.monotonic() - t0
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the daemon did not answer within 120 s")


def stop(daemon: subprocess.Popen) -> None:
    """SIGTERM, as systemd stops it, and wait for the clean exit."""
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(60)
