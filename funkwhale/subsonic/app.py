"""The Subsonic area, mounted at /rest and at Funkwhale's /api/subsonic/rest: `<method>` or `<method>.view`, by
GET or POST (query string and urlencoded body merged), answered in XML (default), JSON or JSONP.

Every outcome is HTTP 200 with a `subsonic-response`, failures included, as clients expect; an unexpected
exception is logged and answered as error 0 without details.
"""

from __future__ import annotations

import importlib
from typing import Any

from klein import Klein
from twisted.internet.defer import CancelledError
from twisted.logger import Logger

from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.metrics.http import name_route
from funkwhale.subsonic import errors
from funkwhale.subsonic.auth import authenticate, check_enabled
from funkwhale.subsonic.errors import SubsonicError
from funkwhale.subsonic.params import Params
from funkwhale.subsonic.registry import ENDPOINTS, Call, check_scope
from funkwhale.subsonic.render import Later, envelope, is_large, render
from funkwhale.threads import run_cpu

log = Logger()

# Modules whose @endpoint functions make up the API; importing one registers its methods.
ENDPOINT_MODULES = [
    "funkwhale.subsonic.system",
    "funkwhale.subsonic.browsing",
    "funkwhale.subsonic.lists",
    "funkwhale.subsonic.search",
    "funkwhale.subsonic.discovery",
    "funkwhale.subsonic.annotate",
    "funkwhale.subsonic.playlists",
    "funkwhale.subsonic.media",
    "funkwhale.subsonic.bookmarks",
    "funkwhale.subsonic.user",
    "funkwhale.subsonic.scan",
    "funkwhale.subsonic.stubs",  # last: only what no other module implements
]


def load_endpoints() -> None:
    for name in ENDPOINT_MODULES:
        importlib.import_module(name)


class SubsonicApp:
    app = Klein()

    def __init__(self, ctx: Context, auth: Any) -> None:
        self.ctx = ctx  # `auth` is the web API's; Subsonic authenticates its own way (auth.py)
        load_endpoints()

    @app.route("/<method>", methods=["GET", "POST", "HEAD"])
    async def call(self, request: Any, method: str) -> bytes:
        params = Params.of(request)
        method = method.removesuffix(".view")
        fmt, callback = (params.get("f") or "xml").lower(), params.get("callback")
        result: dict[str, Any] | bytes | Later | tuple[bytes, bytes]
        try:
            params.check()
            result = await self._dispatch(request, method, params)
            if isinstance(result, Later):  # built from its rows and rendered in one job of the CPU pool
                result = await run_cpu(result.render, fmt, callback)
        except SubsonicError as e:
            result = envelope(None, (e.code, e.message))
        except Invalid as e:
            refusal = errors.from_invalid(e)
            result = envelope(None, (refusal.code, refusal.message))
        except CancelledError:
            return b""  # the client went away
        except Exception:
            log.failure("Subsonic {method} failed", method=method)
            result = envelope(None, (errors.GENERIC, "The server could not answer this request."))
        if isinstance(result, bytes):
            return result
        if isinstance(result, tuple):  # a Later's (body, content type)
            body, content_type = result
        elif is_large(result):  # Python building XML: in a thread, which gives the reactor the GIL every 5 ms
            body, content_type = await run_cpu(render, result, fmt, callback)
        else:
            body, content_type = render(result, fmt, callback)
        request.setResponseCode(200)
        request.setHeader(b"Content-Type", content_type)
        request.setHeader(b"Content-Length", b"%d" % len(body))
        return body

    async def _dispatch(self, request: Any, method: str, params: Params) -> dict[str, Any] | bytes | Later:
        found = ENDPOINTS.get(method)
        if found is None:
            raise SubsonicError(errors.NOT_FOUND, f"Unknown Subsonic method: {method}")
        name_route(request, method)  # a known method: its own route in the request metrics
        principal = None
        if found.public:
            await check_enabled(self.ctx)
        else:
            principal = await authenticate(self.ctx, params, request)
            check_scope(principal, found.scope)
        body = await found.handler(self.ctx, Call(request, params, principal))
        return body if isinstance(body, bytes | Later) else envelope(body)
