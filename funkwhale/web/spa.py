"""The web app (static/dist, built by `make front`) served at `/` when no nginx stands in front.

Files of the build are answered as they are (a precompressed `.gz` twin when the browser accepts gzip); any
other path that is not an API, Subsonic, federation or media path is a client route and gets `index.html`, so
deep links such as /library/albums work. Hashed files under /assets/ never change and are cached for a year.
"""

from __future__ import annotations

import importlib.metadata
import json
import mimetypes
import posixpath
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET
from werkzeug.http import parse_accept_header, parse_etags, quote_etag

from funkwhale.config import Settings
from funkwhale.threads import run_io

log = Logger()

DISTRIBUTION = "funkwhale-twisted"

# First path segments that never fall back to the web app: a missing API route stays a 404.
RESERVED = frozenset({b"api", b"rest", b"federation", b".well-known", b"media", b"_protected", b"staticfiles"})
# A missing file with one of these extensions is a 404, not index.html (a stale asset must not turn into HTML).
FILE_EXTENSIONS = frozenset(".js .mjs .css .map .png .jpg .svg .ico .webp .woff .woff2 .json .txt .webmanifest".split())
IMMUTABLE = b"public, max-age=31536000, immutable"
# The embeddable player, at Funkwhale 1.4's address (the iframe of /api/v1/oembed/): the one page other sites
# may frame; every other page of the app may only be framed by this server's own pages (clickjacking).
EMBED_PATHS = {"front/embed.html": "embed.html", "embed.html": "embed.html"}
TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".map": "application/json",
}

NOT_BUILT = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Funkwhale</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto; line-height: 1.5">
<h1>The web app was not built</h1>
<p>The server is running: its API answers under <code>/api/v1/</code> and Subsonic apps under <code>/rest/</code>.
To get the web app, build it from the source tree with <code>make front</code> (Node.js and npm are needed),
or point <code>FUNKWHALE_STATIC_ROOT</code> at a built <code>static/dist</code> folder, then reload this page.</p>
</body></html>
"""


def installed_from() -> Path | None:
    """The checkout a `pip install PATH` was made from (PEP 610's direct_url.json), if it was one."""
    try:
        recorded = importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
        url = json.loads(recorded or "{}").get("url", "")
    except (importlib.metadata.PackageNotFoundError, ValueError, AttributeError):
        return None
    return Path(url2pathname(urlsplit(url).path)) if url.startswith("file://") else None


def candidate_roots(settings: Settings) -> list[Path]:
    """Where the build may be: the configured folder; else static/dist of the source tree this module runs from
    (editable install), of the checkout it was installed from, or of the working directory."""
    if settings.static_root:
        return [Path(settings.static_root)]
    trees = [Path(__file__).resolve().parents[2], installed_from(), Path.cwd()]
    return [tree / "static" / "dist" for tree in trees if tree is not None]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    cache_control: bytes
    etag: str | None = None  # unquoted
    gzipped: bool = False
    framable: bool = False


def _content_type(path: Path) -> str:
    guessed = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return guessed + ("; charset=utf-8" if guessed.startswith("text/") or guessed.endswith("json") else "")


def _file_answer(path: Path, cache_control: bytes, accepts_gzip: bool) -> Answer:
    twin = path.with_name(path.name + ".gz")
    use_twin = accepts_gzip and twin.is_file()
    source = twin if use_twin else path
    stat = source.stat()
    etag = f"{stat.st_mtime_ns:x}-{stat.st_size:x}"
    return Answer(200, source.read_bytes(), _content_type(path), cache_control, etag, use_twin)


def resolve(roots: list[Path], url_path: str, accepts_gzip: bool) -> Answer:
    """What to answer for `url_path` (blocking: runs in a thread)."""
    root = next((r for r in roots if (r / "index.html").is_file()), None)
    if root is None:
        return Answer(200, NOT_BUILT, "text/html; charset=utf-8", b"no-cache")
    relative = posixpath.normpath("/" + url_path).lstrip("/")
    if relative in EMBED_PATHS and (root / EMBED_PATHS[relative]).is_file():
        return replace(_file_answer(root / EMBED_PATHS[relative], b"no-cache", accepts_gzip), framable=True)
    if relative and relative != "index.html":
        candidate = (root / relative).resolve()
        if candidate.is_relative_to(root.resolve()) and candidate.is_file():
            cache = IMMUTABLE if relative.startswith("assets/") else b"public, max-age=3600"
            return _file_answer(candidate, cache, accepts_gzip)
        if relative.startswith("assets/") or posixpath.splitext(relative)[1].lower() in FILE_EXTENSIONS:
            return Answer(404, b"Not found.", "text/plain; charset=utf-8", b"no-cache")
    return _file_answer(root / "index.html", b"no-cache", accepts_gzip)


def _header(request: Any, name: bytes) -> str:
    return (request.getHeader(name) or b"").decode("latin-1")


class WebApp(Resource):
    """Answers every path it is given from the build (see `resolve`)."""

    isLeaf = True

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.roots = candidate_roots(settings)  # once, at start: it reads package metadata from disk

    def render_GET(self, request: Any) -> Any:
        d = Deferred.fromCoroutine(self._answer(request))
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    render_HEAD = render_GET

    async def _answer(self, request: Any) -> None:
        accepts_gzip = parse_accept_header(_header(request, b"accept-encoding"))["gzip"] > 0
        url_path = request.path.decode("utf-8", "replace")
        answer = await run_io(resolve, self.roots, url_path, accepts_gzip)
        if request._disconnected:
            return
        request.setResponseCode(answer.status)
        request.setHeader(b"Content-Type", answer.content_type.encode())
        request.setHeader(b"Cache-Control", answer.cache_control)
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        request.setHeader(b"Vary", b"Accept-Encoding")
        if answer.content_type.startswith("text/html") and not answer.framable:
            request.setHeader(b"X-Frame-Options", b"SAMEORIGIN")
        if answer.gzipped:
            request.setHeader(b"Content-Encoding", b"gzip")
        if answer.etag is not None:
            request.setHeader(b"ETag", quote_etag(answer.etag).encode())
            if parse_etags(_header(request, b"if-none-match")).contains_weak(answer.etag):
                request.setResponseCode(304)
                request.finish()
                return
        request.setHeader(b"Content-Length", str(len(answer.body)).encode())
        if request.method != b"HEAD":
            request.write(answer.body)
        request.finish()

    def _failed(self, failure: Any, request: Any) -> None:
        log.failure("web app: cannot answer {path}", failure, path=request.path)
        if not request._disconnected and not request.finished:
            request.setResponseCode(500)
            request.finish()


class Root(Resource):
    """The root of the HTTP tree: mounted areas first, then the web app for every other first segment."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.web_app = WebApp(settings)

    def getChild(self, path: bytes, request: Any) -> IResource:
        if path in RESERVED:
            return notFound()
        return self.web_app
