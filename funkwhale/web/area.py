"""What every HTTP area shares: built as `Area(ctx, auth)` by `web/app.py`, with its own Klein app whose errors are
the API's JSON ones (`app = api_app()` in each subclass: Klein routes are registered on the class's app)."""

from __future__ import annotations

from typing import ClassVar

from klein import Klein

from funkwhale.context import Context
from funkwhale.music.catalog.serializers import Renderer
from funkwhale.web.auth import Auth
from funkwhale.web.errors import install_api_errors


def api_app() -> Klein:
    """A Klein app answering ApiError, the domain's Invalid and routing failures as the API's JSON errors."""
    app = Klein()
    install_api_errors(app)
    return app


class Area:
    app: ClassVar[Klein]

    def __init__(self, ctx: Context, auth: Auth) -> None:
        self.ctx = ctx
        self.auth = auth
        self.renderer = Renderer(ctx.settings.base_url)  # catalog JSON, with this server's public URLs
