"""deploy/nginx.conf in front of a real daemon: a real nginx (Debian's, installed by .ci/run) runs the shipped file,
with only its addresses and paths pointed at this test, and serves the web app itself, proxies the API and
Subsonic, and sends audio files through X-Accel-Redirect that only the daemon can authorise.

Skipped where no nginx binary exists; CI installs it, so it always runs there."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from .client import ApiClient
from .conftest import start_server
from .playback_helpers import add_playable, owner_with_library, session

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
METRICS_TOKEN = "metrics-token-0123456789"
INDEX = b"<!doctype html><html><body><div id=app></div><script src=/assets/app-1a2b.js></script></body></html>"

pytestmark = pytest.mark.skipif(NGINX is None, reason="no nginx binary (CI installs Debian's)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_config(port: int, upstream: int, dist: Path, media: Path, music: Path) -> str:
    """The shipped server block on plain HTTP at `port`, its upstream and folders pointed at this test."""
    text = DEPLOY.read_text()
    text = text[text.index("upstream funkwhale {") :]
    text = re.sub(r"server \{\n    listen 80;.*?\n\}\n", "", text, count=1, flags=re.S)  # the redirect to https
    text = text.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port};").replace(
        "listen [::]:443 ssl http2;", ""
    )
    text = re.sub(r"\n    ssl_[a-z_]+ [^\n]*;", "", text)
    text = text.replace("server 127.0.0.1:5000;", f"server 127.0.0.1:{upstream};")
    text = text.replace("/srv/funkwhale/static/dist", str(dist))
    text = text.replace("/srv/funkwhale/data/media/", f"{media}/").replace("/srv/funkwhale/music/", f"{music}/")
    assert "/srv/funkwhale" not in text and "letsencrypt" not in text
    return text


def start_nginx(work: Path, site: str, port: int) -> subprocess.Popen:
    (work / "site.conf").write_text(site)
    (work / "main.conf").write_text(
        f"user root; daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/error.log;\n"
        f"events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;\n"
        f"  fastcgi_temp_path {work}/fcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;\n"
        f"  include {work}/site.conf;\n}}\n"
    )
    proc = subprocess.Popen([NGINX, "-c", str(work / "main.conf")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"nginx refused the configuration: {proc.stderr.read().decode()}") from None
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("nginx did not start")


@pytest.fixture
def dist(tmp_path):
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_bytes(INDEX)
    (folder / "assets" / "app-1a2b.js").write_text("console.log('app')")
    return folder


@asynccontextmanager
async def behind_nginx(settings: Any, dist: Path, tmp_path: Path) -> AsyncIterator[tuple[ApiClient, Any]]:
    """The daemon with `settings` behind a real nginx running the shipped configuration: (a client of nginx, the
    daemon's settings)."""
    music = Path(settings.data_dir) / "music"
    running = await start_server(settings)
    port, work = free_port(), tmp_path / "nginx"
    work.mkdir()
    site = site_config(port, running.port.getHost().port, dist, settings.media_path, music)
    nginx = start_nginx(work, site, port)
    try:
        yield ApiClient(f"http://127.0.0.1:{port}"), settings
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(10)
        await running.service.stopService()


@pytest_twisted.async_yield_fixture
async def nginx_site(db_conn, settings, dist, tmp_path):
    """The daemon (web role, FUNKWHALE_REVERSE_PROXY=nginx, login limit 3, metrics behind a token) behind nginx."""
    music = Path(settings.data_dir) / "music"
    music.mkdir(parents=True, exist_ok=True)
    behind = dataclasses.replace(
        settings,
        reverse_proxy="nginx",
        role="web",
        music_directories=(str(music),),
        static_root=str(dist),
        login_rate_limit=3,
        metrics=True,
        metrics_token=METRICS_TOKEN,
    )
    async with behind_nginx(behind, dist, tmp_path) as site:
        yield site


@pytest_twisted.ensureDeferred
async def test_nginx_serves_the_app_proxies_the_daemon_and_sends_audio_itself(nginx_site, db_conn):
    client, settings = nginx_site
    page = await client.get("/library/albums/12")  # a client route: nginx answers index.html itself
    assert page.code == 200 and page.body == INDEX
    asset = await client.get("/assets/app-1a2b.js")
    assert asset.code == 200 and "max-age=315360000" in (asset.header("Cache-Control") or "")
    assert (await client.get("/assets/app-0000.js")).code == 404

    health = await client.get("/api/v1/health/")
    assert health.code == 200 and health.json["postgres"] is True
    ping = await client.get("/rest/ping.view", params={"f": "json"})
    assert ping.json["subsonic-response"]["type"] == "funkwhale"

    user, library = owner_with_library(db_conn, "alice")
    copied = add_playable(db_conn, settings, library, "flac")
    in_place = add_playable(db_conn, settings, library, "ogg", in_place=True)
    for song in (copied, in_place):
        got = await client.get(song.url, headers=session(db_conn, user))
        assert got.code == 200 and got.body == song.path.read_bytes(), song.url  # from nginx, via X-Accel
        assert got.header("X-Accel-Redirect") is None  # nginx consumed it
    assert (await client.get(copied.url)).code in (401, 403)  # nobody else reaches the file
    assert (await client.get("/_protected/media/" + copied.upload["audio_file"])).code == 404


@pytest_twisted.ensureDeferred
async def test_behind_nginx_the_login_limit_keys_on_the_address_nginx_saw(nginx_site):
    """A client's own X-Forwarded-For (or X-Real-IP) neither resets its limit nor spends someone else's."""
    client, _settings = nginx_site
    await client.get("/api/v1/rate-limit/")  # the csrftoken cookie
    codes = []
    for i in range(4):  # other names each time: only the address counter can fill up
        spoofed = {"X-Forwarded-For": f"192.0.2.{i}", "X-Real-IP": f"192.0.2.{i}"}
        form = {"username": f"nobody{i}", "password": "wrong-password"}
        codes.append((await client.post("/api/v1/users/login", form=form, headers=spoofed)).code)
    assert codes == [400, 400, 400, 429]
    ident = (await client.get("/api/v1/rate-limit/", headers={"X-Forwarded-For": "192.0.2.1"})).json["ident"]
    assert ident == {"type": "anonymous", "id": "127.0.0.1"}  # where this test's connection comes from


@pytest_twisted.ensureDeferred
async def test_nginx_does_not_pass_the_metrics_on(nginx_site):
    """The daemon serves /metrics to the token; through nginx nobody gets them, token or not."""
    client, _settings = nginx_site
    for path in ("/metrics", "/metrics?x=1"):
        resp = await client.get(path, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert resp.code == 404 and b"funkwhale_" not in resp.body, (path, resp)


@pytest_twisted.ensureDeferred
async def test_nginx_fetches_bucket_media_from_the_presigned_url(db_conn, settings, dist, tmp_path, s3_server):
    """With media in a bucket, the daemon's X-Accel-Redirect names a presigned URL; nginx's internal location
    fetches it, passing Range, and sends none of the client's credentials to the store."""
    bucket = s3_server.new_bucket()
    behind = s3_server.settings(dataclasses.replace(settings, reverse_proxy="nginx", role="web"), bucket)
    async with behind_nginx(behind, dist, tmp_path) as (client, _):
        user, library = owner_with_library(db_conn, "alice")
        song = add_playable(db_conn, behind, library, "flac")
        data = song.path.read_bytes()
        s3_server.client().put_object(Bucket=bucket, Key=song.upload["audio_file"], Body=data)
        song.path.unlink()  # only in the bucket
        got = await client.get(song.url, headers=session(db_conn, user))
        assert got.code == 200 and got.body == data and got.header("X-Accel-Redirect") is None, got
        part = await client.get(song.url, headers={**session(db_conn, user), "Range": "bytes=100-199"})
        assert part.code == 206 and part.body == data[100:200], part
        assert (await client.get(song.url)).code in (401, 403)
