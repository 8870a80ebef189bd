"""The web app at `/`: built files as they are, client routes fall back to index.html, API paths never do."""

from __future__ import annotations

import dataclasses
import gzip

import pytest
import pytest_twisted

from funkwhale.web import spa

from .conftest import start_server

INDEX = b'<!doctype html><html><body><div id="app"></div><script type="module" src="/assets/app-1a2b.js"></script>'
SCRIPT = b"console.log('funkwhale');" * 40
EMBED = b'<!doctype html><html><body><div id="embed"></div><script type="module" src="/assets/embed-3c4d.js">'


@pytest.fixture
def dist(tmp_path):
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "embed.html").write_bytes(EMBED)
    (root / "assets" / "app-1a2b.js").write_bytes(SCRIPT)
    (root / "assets" / "app-1a2b.js.gz").write_bytes(gzip.compress(SCRIPT))
    (root / "favicon.svg").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    (tmp_path / "secret.txt").write_bytes(b"not for the web")
    return root


@pytest_twisted.async_yield_fixture
async def app_server(settings, dist):
    running = await start_server(dataclasses.replace(settings, role="web", static_root=str(dist)))
    yield running
    await running.service.stopService()


@pytest_twisted.ensureDeferred
async def test_client_routes_fall_back_to_index_html(app_server):
    client = app_server.client()
    home = await client.get("/")
    assert home.code == 200
    assert home.body == INDEX
    assert home.header("Content-Type") == "text/html; charset=utf-8"
    assert home.header("Cache-Control") == "no-cache"
    for route in ("/library/albums", "/library/albums/12", "/login", "/@alice"):
        deep = await client.get(route)
        assert (deep.code, deep.body) == (200, INDEX), route
        assert deep.header("X-Frame-Options") == "SAMEORIGIN", route  # never framed by another site


@pytest_twisted.ensureDeferred
async def test_the_embeddable_player_may_be_framed_anywhere(app_server):
    """oEmbed's iframe points at 1.4's address of the player, `/front/embed.html`."""
    player = await app_server.client().get("/front/embed.html", params={"type": "album", "id": "3"})
    assert (player.code, player.body) == (200, EMBED)
    assert player.header("Content-Type") == "text/html; charset=utf-8"
    assert player.header("X-Frame-Options") is None


@pytest_twisted.ensureDeferred
async def test_hashed_assets_are_cached_for_a_year(app_server):
    client = app_server.client()  # treq asks for gzip and decodes it: the body is the script either way
    plain = await client.get("/assets/app-1a2b.js")
    assert plain.code == 200
    assert plain.body == SCRIPT
    assert plain.header("Content-Type") == "text/javascript; charset=utf-8"
    assert plain.header("Cache-Control") == "public, max-age=31536000, immutable"
    icon = await client.get("/favicon.svg")
    assert icon.header("Content-Type") == "image/svg+xml"
    assert icon.header("Cache-Control") == "public, max-age=3600"


@pytest_twisted.ensureDeferred
async def test_an_unchanged_file_answers_304(app_server):
    client = app_server.client()
    first = await client.get("/")
    again = await client.get("/", headers={"If-None-Match": first.header("ETag")})
    assert again.code == 304
    assert again.body == b""


@pytest_twisted.ensureDeferred
async def test_missing_assets_and_api_paths_are_404_not_the_app(app_server):
    client = app_server.client()
    for path in ("/assets/app-0000.js", "/old-bundle.css", "/api/v1/nothing-here/", "/media/x"):
        resp = await client.get(path)
        assert resp.code == 404, path
        assert resp.body != INDEX, path
    subsonic = await client.get("/rest/ping.view")  # Subsonic answers its own way, never with the app
    assert b"subsonic-response" in subsonic.body and subsonic.body != INDEX
    health = await client.get("/api/v1/health/")
    assert health.json["status"] == "ok"


def test_the_gzip_twin_goes_only_to_browsers_that_accept_it(dist):
    packed = spa.resolve([dist], "/assets/app-1a2b.js", accepts_gzip=True)
    assert packed.gzipped and gzip.decompress(packed.body) == SCRIPT
    plain = spa.resolve([dist], "/assets/app-1a2b.js", accepts_gzip=False)
    assert not plain.gzipped and plain.body == SCRIPT


def test_paths_cannot_leave_the_build_folder(dist):
    for path in (
        "/../secret.txt",
        "/assets/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
    ):
        answer = spa.resolve([dist], path, accepts_gzip=False)
        assert b"not for the web" not in answer.body, path


@pytest_twisted.ensureDeferred
async def test_without_a_build_the_root_says_how_to_build_it(settings, tmp_path):
    running = await start_server(dataclasses.replace(settings, role="web", static_root=str(tmp_path / "none")))
    try:
        resp = await running.client().get("/library/albums")
    finally:
        await running.service.stopService()
    assert resp.code == 200
    assert b"The web app was not built" in resp.body
    assert b"make front" in resp.body


def test_without_a_setting_the_build_is_looked_for_in_the_working_directory(settings, dist, monkeypatch):
    tree = dist.parent
    (tree / "static").mkdir()
    dist.rename(tree / "static" / "dist")
    monkeypatch.chdir(tree)
    roots = spa.candidate_roots(settings)
    assert roots[-1] == tree / "static" / "dist"
    assert spa.resolve(roots[-1:], "/library/albums", accepts_gzip=False).body == INDEX


@pytest_twisted.ensureDeferred
async def test_every_response_names_the_server_funkwhale_only(app_server):
    client = app_server.client()
    for path in ("/", "/assets/app-1a2b.js", "/api/v1/health/", "/api/v1/nothing-here/", "/api/v1/users/me/"):
        resp = await client.get(path)
        assert resp.header("Server") == "funkwhale", (path, resp.code, resp.header("Server"))
    resp = await client.post("/api/v1/users/login/", data=b"x" * (11 * 1024 * 1024))  # 413, written by hand
    assert resp.code == 413 and resp.header("Server") == "funkwhale", resp
