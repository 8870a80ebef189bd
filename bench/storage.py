"""Media on local disk versus in an S3-compatible bucket (moto's server, the tests' stand-in for MinIO or AWS).

For each mode, starts the daemon on a fresh data dir, uploads a ~10 MB wav through POST /api/v1/uploads/ (timed
until the 201: the body spooled, then moved into MEDIA_ROOT or sent to the bucket by multipart upload), waits for
its import (tags read from the disk, or by ranged GETs from the bucket), then times the first byte and the whole
body of /api/v1/listen (median of N): from the disk; relayed by the daemon from the bucket (PROXY_MEDIA=true, no
nginx); and a 302 to a presigned URL followed by the client (PROXY_MEDIA=false).
Run: .venv/bin/python bench/storage.py [N, default 10]
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from daemon import free_port, launch, stop
from stream import create_user, login
from tones import tone

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.s3_server import REGION, start_s3_server  # noqa: E402 (the tests' moto_server helper)

BOUNDARY = "----fw-bench-boundary"


def body(path: Path, library: str) -> tuple[Iterator[bytes], int]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="library"\r\n\r\n{library}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="audio_file"; filename="{path.name}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        with path.open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                yield chunk
        yield tail

    return chunks(), len(head) + path.stat().st_size + len(tail)


def request(port: int, method: str, path: str, cookie: str, data: object = None, **headers: str) -> tuple[int, bytes]:
    csrf = [c.split("=", 1)[1] for c in cookie.split("; ") if c.startswith("csrftoken=")][0]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(method, path, data, {"Cookie": cookie, "X-CSRFToken": csrf, **headers})
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    return resp.status, payload


def play(url: str, cookie: str) -> tuple[float, float, int]:
    """(seconds to the first body byte, to the last, bytes), following one redirect (PROXY_MEDIA=false)."""
    t0 = time.perf_counter()
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers={"Cookie": cookie})
    resp = conn.getresponse()
    if resp.status == 302:
        resp.read()
        conn.close()
        location = urllib.parse.urlsplit(resp.getheader("Location") or "")
        conn = http.client.HTTPConnection(location.hostname, location.port, timeout=120)
        conn.request("GET", f"{location.path}?{location.query}")
        resp = conn.getresponse()
    first = resp.read(1)
    ttfb = time.perf_counter() - t0
    size = len(first) + len(resp.read())
    total = time.perf_counter() - t0
    conn.close()
    assert resp.status == 200, resp.status
    return ttfb, total, size


def run_mode(name: str, env: dict[str, str], song: Path, runs: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="fw-bench-storage-"))
    port = free_port()
    env = {**os.environ, "FUNKWHALE_DATA_DIR": str(work / "data"), **env}
    daemon, _ = launch(work, port, env)
    try:
        create_user(env)
        cookie = login(port)
        status, answer = request(
            port,
            "POST",
            "/api/v1/libraries/",
            cookie,
            json.dumps({"name": "bench", "privacy_level": "me"}),
            **{"Content-Type": "application/json"},
        )
        library = json.loads(answer)["uuid"]
        chunks, length = body(song, library)
        t0 = time.perf_counter()
        status, answer = request(
            port,
            "POST",
            "/api/v1/uploads/",
            cookie,
            chunks,
            **{"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Content-Length": str(length)},
        )
        uploaded = time.perf_counter() - t0
        assert status == 201, (status, answer)
        upload = json.loads(answer)["uuid"]
        while True:
            _, answer = request(port, "GET", f"/api/v1/uploads/{upload}/", cookie)
            done = json.loads(answer)
            if done["import_status"] != "pending":
                break
            time.sleep(0.05)
        imported = time.perf_counter() - t0
        assert done["import_status"] == "finished", done
        _, answer = request(port, "GET", f"/api/v1/tracks/{done['track']['id']}/", cookie)
        url = f"http://127.0.0.1:{port}{json.loads(answer)['listen_url']}"
        plays = [play(url, cookie) for _ in range(runs)]
        assert all(size == song.stat().st_size for _, _, size in plays)
        first = statistics.median(p[0] for p in plays) * 1000
        whole = statistics.median(p[1] for p in plays) * 1000
        print(
            f"{name:<34} upload {uploaded * 1000:7.0f} ms  imported {imported * 1000:7.0f} ms  "
            f"first byte {first:6.1f} ms  whole {whole:6.1f} ms"
        )
    finally:
        stop(daemon)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    work = Path(tempfile.mkdtemp(prefix="fw-bench-storage-song-"))
    song = tone(work / "song.wav", 59, 440, "-ac", "2", "-metadata", "title=Bench", "-metadata", "artist=Bench")
    print(f"{song.stat().st_size / 1e6:.1f} MB wav, {runs} plays each")
    s3 = start_s3_server()
    try:
        bucket = {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_S3_ENDPOINT_URL": s3.endpoint,
            "AWS_S3_REGION_NAME": REGION,
        }
        run_mode("local disk", {}, song, runs)
        run_mode(
            "bucket, relayed (PROXY_MEDIA=true)", {**bucket, "AWS_STORAGE_BUCKET_NAME": s3.new_bucket()}, song, runs
        )
        run_mode(
            "bucket, 302 (PROXY_MEDIA=false)",
            {**bucket, "AWS_STORAGE_BUCKET_NAME": s3.new_bucket(), "PROXY_MEDIA": "false"},
            song,
            runs,
        )
    finally:
        s3.process.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
