"""The Subsonic methods: each is one async function `(ctx, call)` registered by name with @endpoint.

A handler returns the response body (a dict rendered under the envelope by render.py; or a render.Later, the rows
a long body is built from, built and rendered in the CPU pool) or, for binary answers (stream, download, cover
art), the bytes left to write after it set its own headers on `call.request`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from funkwhale.context import Context
from funkwhale.music.visibility import Viewer
from funkwhale.subsonic.errors import NOT_AUTHORIZED, SubsonicError
from funkwhale.subsonic.params import Params
from funkwhale.subsonic.render import Later
from funkwhale.users.models import Principal, User

READ = "read:libraries"


def check_scope(principal: Principal, scope: str) -> None:
    """Error 50 unless the caller may use `scope`: their account's permissions open it (for "instance:*"
    scopes) and their credential grants it (an apiKey's token scopes; a Subsonic password grants all)."""
    if not principal.user.may_use(scope):
        raise SubsonicError(NOT_AUTHORIZED, "You do not have permission to perform this action.")
    if not principal.allows(scope):
        raise SubsonicError(NOT_AUTHORIZED, f"This API key lacks the {scope} scope.")


@dataclass
class Call:
    """One request: its parameters, who makes it (None for public methods), the HTTP request."""

    request: Any
    params: Params
    principal: Principal | None

    def require_scope(self, scope: str) -> None:
        """For a method whose parameters decide what it reveals: error 50 unless the caller may use `scope`."""
        assert self.principal is not None, "public methods have no user"
        check_scope(self.principal, scope)

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


Handler = Callable[[Context, Call], Awaitable[dict[str, Any] | bytes | Later]]


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
