"""/.well-known/nodeinfo: where a peer finds our NodeInfo documents."""

from __future__ import annotations

import json
from typing import Any

from funkwhale.instance import nodeinfo
from funkwhale.web.area import Area, api_app


class WellKnownNodeinfo(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def links(self, request: Any) -> bytes:
        request.setHeader(b"Content-Type", b"application/json; charset=utf-8")
        request.setHeader(b"Access-Control-Allow-Origin", b"*")
        if not await nodeinfo.enabled(self.ctx):
            request.setResponseCode(404)
            return b'{"links":[]}'
        return json.dumps(nodeinfo.links(self.ctx.settings)).encode()
