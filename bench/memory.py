"""The daemon's memory under two cheap attacks: a lying mp3 header and a picture of many pixels.

Starts the daemon on a fresh embedded data dir, imports an 8-second mp3 (128 kbps) whose Xing header claims 8,000
seconds, then:
  1. Subsonic `stream?format=opus&estimateContentLength=true` of it, by a client that reads nothing;
  2. an 8000x8000 PNG posted as an avatar and, if stored, its three square crops asked at once, anonymously;
  3. a 4000x4000 PNG (accepted everywhere) and its three crops at once.
After each step prints the daemon's resident memory (VmRSS) and its peak during the step (VmHWM, reset through
/proc/<pid>/clear_refs): twistd's own process, the embedded PostgreSQL and Redis left aside.

Run: .venv/bin/python bench/memory.py [SOURCE]; SOURCE, another checkout (e.g. an older commit in a git worktree),
is what the daemon and `funkwhale import` run from (PYTHONPATH), to compare before and after a change.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

from daemon import free_port, launch, stop
from PIL import Image
from stream import create_user, login
from tones import tone

from tests.audio import claim_duration

BIN = Path(sys.executable).parent
CLAIM = 8000  # seconds


def memory(pid: int) -> str:
    """`RSS ... MB, peak ... MB` of a process (VmRSS, VmHWM), then its peak is reset (for the next step)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    return f"RSS {fields['VmRSS']:6.0f} MB, peak {fields['VmHWM']:6.0f} MB"


def report(step: str, pid: int) -> None:
    print(f"  {step:<46} {memory(pid)}", flush=True)


def request(port: int, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None):
    """(status, body) of one request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request(method, path, body, headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def png(side: int) -> bytes:
    """A PNG of side x side pixels, small on disk (a gradient row repeated)."""
    image = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def post_picture(port: int, auth: dict[str, str], data: bytes) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="me.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode() + data + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    status, answer = request(port, "POST", "/api/v1/attachments/", body, headers)
    return status, json.loads(answer)


def crops_at_once(port: int, picture: str) -> list[int]:
    """The three named crops of a picture asked at the same time, without credentials; their statuses."""
    paths = [f"/api/v1/attachments/{picture}/proxy?next={name}" for name in ("small", "medium", "large")]
    paths = [f"{path}_square_crop" for path in paths]
    with ThreadPoolExecutor(len(paths)) as pool:
        return [status for status, _ in pool.map(lambda path: request(port, "GET", path), paths)]


def silent_stream(port: int, path: str, seconds: float) -> None:
    """Send a GET and read nothing for `seconds`, then hang up."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        time.sleep(seconds)


def setup(port: int, env: dict[str, str], music: Path) -> tuple[dict[str, str], str, int]:
    """A user, their session headers, Subsonic token and the id of the imported lying mp3."""
    create_user(env)
    cookie = login(port)
    csrf = [c.split("=", 1)[1] for c in cookie.split("; ") if c.startswith("csrftoken=")][0]
    auth = {"Cookie": cookie, "X-CSRFToken": csrf}
    body = json.dumps({"name": "bench", "privacy_level": "me"})
    _, answer = request(port, "POST", "/api/v1/libraries/", body, {**auth, "Content-Type": "application/json"})
    library = json.loads(answer)["uuid"]
    command = [str(BIN / "funkwhale"), "import", str(music), "--library", library, "--in-place"]
    subprocess.run(command, env=env, check=True, capture_output=True)
    _, answer = request(port, "POST", "/api/v1/users/bench/subsonic-token/", b"", auth)
    token = json.loads(answer)["subsonic_api_token"]
    _, answer = request(port, "GET", "/api/v1/tracks/", headers=auth)
    return auth, token, json.loads(answer)["results"][0]["id"]


def main() -> None:
    source = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else None
    work = Path(tempfile.mkdtemp(prefix="fw-bench-memory-"))
    music, data, port = work / "music", work / "data", free_port()
    music.mkdir()
    env = {**os.environ, "FUNKWHALE_DATA_DIR": str(data), "FUNKWHALE_MUSIC_DIRECTORIES": str(music)}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    liar = tone(music / "liar.mp3", 8, 440, "-c:a", "libmp3lame", "-b:a", "128k", "-metadata", "title=Liar")
    claim_duration(liar, CLAIM)
    daemon, _ = launch(work, port, env)
    try:
        auth, token, track = setup(port, env, music)
        print(f"daemon from {source or 'this checkout'}: pid {daemon.pid} (RSS after each step, peak during it)")
        report("started, a user and an mp3 imported", daemon.pid)

        query = urlencode({"u": "bench", "p": token, "v": "1.16.1", "c": "bench", "id": f"tr-{track}",
                           "format": "opus", "estimateContentLength": "true"})  # fmt: skip
        silent_stream(port, f"/rest/stream?{query}", 5)
        report(f"{liar.stat().st_size // 1024} KB mp3 claiming {CLAIM} s, read by nobody", daemon.pid)

        for side in (8000, 4000):
            status, answer = post_picture(port, auth, png(side))
            statuses = crops_at_once(port, answer["uuid"]) if status == 201 else []
            report(f"{side}x{side} PNG posted: {status}, crops: {statuses or '-'}", daemon.pid)
    finally:
        stop(daemon)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
