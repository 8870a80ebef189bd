"""Time to first byte of /api/v1/listen: the original file, a live ffmpeg transcode, and a cached transcode.

Starts the daemon on a fresh embedded data dir, imports N generated 4-minute tracks (wav, 1411 kbps) with
`funkwhale import`, logs in, then for each track times the first byte of `?to=mp3&max_bitrate=192` (live: ffmpeg
starts), of the same request once the transcode is cached, and of the original. Prints median and max.
Run: .venv/bin/python bench/stream.py [N, default 8]
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from daemon import free_port, launch, stop
from tones import tone

BIN = Path(sys.executable).parent
PASSWORD = "bench-pass-1234"


def ttfb(port: int, path: str, cookie: str) -> tuple[float, int]:
    """Seconds to the first body byte, and the whole body's size (read to the end)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    resp = conn.getresponse()
    first = resp.read(1)
    elapsed = time.perf_counter() - t0
    size = len(first) + len(resp.read())
    conn.close()
    assert resp.status in (200, 206), (path, resp.status)
    return elapsed, size


def create_user(env: dict[str, str]) -> None:
    """The account `bench` (PASSWORD), made with `funkwhale createuser` in the daemon's environment."""
    subprocess.run(
        [str(BIN / "funkwhale"), "createuser", "bench", "--email", "b@example.org"],
        input=f"{PASSWORD}\n{PASSWORD}\n", env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip


def login(port: int) -> str:
    """The session's cookies: the CSRF cookie first (login needs its double submit, as Django's), then the login."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/api/v1/instance/settings/")
    resp = conn.getresponse()
    resp.read()
    csrf = _cookies(resp)
    token = csrf.partition("csrftoken=")[2].split(";")[0]
    body = urllib.parse.urlencode({"username": "bench", "password": PASSWORD})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": csrf, "X-CSRFToken": token}
    conn.request("POST", "/api/v1/users/login", body, headers)
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200, resp.status
    jar = dict(part.split("=", 1) for part in f"{csrf}; {_cookies(resp)}".split("; ") if "=" in part)
    return "; ".join(f"{name}={value}" for name, value in jar.items())  # the login's cookies win


def _cookies(resp: http.client.HTTPResponse) -> str:
    return "; ".join(h.split(";")[0] for k, h in resp.getheaders() if k.lower() == "set-cookie")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    work = Path(tempfile.mkdtemp(prefix="fw-bench-stream-"))
    music, data, port = work / "music", work / "data", free_port()
    music.mkdir()
    env = {**os.environ, "FUNKWHALE_DATA_DIR": str(data), "FUNKWHALE_MUSIC_DIRECTORIES": str(music)}
    for n in range(count):
        options = ["-ac", "2", "-metadata", f"title=Long {n}", "-metadata", "artist=Bench"]
        tone(music / f"{n}.wav", 240, 200 + 20 * n, *options)
    daemon, _ = launch(work, port, env)
    try:
        create_user(env)
        cookie = login(port)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        csrf = [c.split("=", 1)[1] for c in cookie.split("; ") if c.startswith("csrftoken=")][0]
        conn.request(
            "POST",
            "/api/v1/libraries/",
            json.dumps({"name": "bench", "privacy_level": "me"}),
            {"Cookie": cookie, "X-CSRFToken": csrf, "Content-Type": "application/json"},
        )
        library = json.loads(conn.getresponse().read())["uuid"]
        subprocess.run(
            [str(BIN / "funkwhale"), "import", str(music), "--library", library, "--in-place"],
            env=env,
            check=True,
            capture_output=True,
        )
        conn.request("GET", "/api/v1/tracks/?page_size=50", headers={"Cookie": cookie})
        tracks = json.loads(conn.getresponse().read())["results"]
        live, cached, original = [], [], []
        for track in tracks:
            url = track["listen_url"]
            sep = "&" if "?" in url else "?"
            live.append(ttfb(port, f"{url}{sep}to=mp3&max_bitrate=192", cookie)[0])
            cached.append(ttfb(port, f"{url}{sep}to=mp3&max_bitrate=192", cookie)[0])
            original.append(ttfb(port, url, cookie)[0])
        for name, values in (
            ("live transcode (wav -> mp3 192k)", live),
            ("cached transcode", cached),
            ("original file", original),
        ):
            print(
                f"time to first byte, {name}: median {statistics.median(values) * 1000:.1f} ms, "
                f"max {max(values) * 1000:.1f} ms ({len(values)} requests)"
            )
    finally:
        stop(daemon)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
