"""/api/v1/text-preview/: `{text, permissive?}` -> `{rendered}`, the sanitised HTML of Markdown (rich_text.py),
for anyone, as 1.4's TextPreviewView."""

from __future__ import annotations

from typing import Any

from funkwhale.errors import Invalid
from funkwhale.rich_text import render_html
from funkwhale.threads import run_cpu
from funkwhale.web.area import Area, api_app
from funkwhale.web.json import json_response
from funkwhale.web.params import read_body

MAX_TEXT = 100_000  # characters a preview renders


class TextPreviewApi(Area):
    app = api_app()

    @app.route("/", methods=["POST"], strict_slashes=False)
    async def preview(self, request: Any) -> bytes:
        data = read_body(request)
        text = data.get("text")
        if not isinstance(text, str):
            raise Invalid("Invalid input")
        if len(text) > MAX_TEXT:
            raise Invalid.field("text", f"Ensure this field has no more than {MAX_TEXT} characters.")
        permissive = data.get("permissive") in (True, "true", "1")
        return json_response(request, {"rendered": await run_cpu(render_html, text, permissive)})
