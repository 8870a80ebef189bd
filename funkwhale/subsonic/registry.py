"""The Subsonic methods: each is one async function `(ctx, call)` registered by name with @endpoint.

A handler returns the response body (a dict rendered under the envelope by render.py) or, for binary answers
(stream, download, cover art), the bytes left to write after it set its own headers on `call.request`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from funkwhale.context import Context
from funkwhale.music.visibility import Viewer
from funkwhale.subsonic.params import Params
from funkwhale.users.models import Principal, User

READ = "read:libraries"


@dataclass
class Call:
    """One request: its parameters, who makes it (None for public methods), the HTTP request."""

    request: Any
    params: Params
    principal: Principal | None

    @property
    def user(self) -> User:
        assert self.principal is not None, "public methods have no user"
        return self.principal.user

    @property
    def viewer(self) -> Viewer:
        return Viewer.of(self.principal)

    @property
    def client(self) -> str:
        """The client's name (`c`), e.g. "DSub"."""
        return self.params.get("c") or ""


Handler = Callable[[Context, Call], Awaitable[dict[str, Any] | bytes]]


@dataclass(frozen=True)
class Endpoint:
    handler: Handler
    public: bool  # answered without credentials (getOpenSubsonicExtensions, as OpenSubsonic asks)
    scope: str  # what an apiKey's token must allow (read:libraries, write:favorites, ...); error 50 otherwise


ENDPOINTS: dict[str, Endpoint] = {}


def endpoint(*names: str, public: bool = False, scope: str = READ) -> Callable[[Handler], Handler]:
    """Register a handler under one or more method names."""

    def register(handler: Handler) -> Handler:
        for name in names:
            if name in ENDPOINTS:
                raise RuntimeError(f"Subsonic method {name} registered twice")
            ENDPOINTS[name] = Endpoint(handler, public, scope)
        return handler

    return register
