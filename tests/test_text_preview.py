"""POST /api/v1/text-preview/: Markdown rendered and sanitised, over HTTP."""

from __future__ import annotations

import pytest_twisted

PREVIEW = "/api/v1/text-preview/"


@pytest_twisted.ensureDeferred
async def test_markdown_is_rendered_with_funkwhales_tags_only(client):
    text = (
        'Hello **world**, *again*\nnext line\n\n- one\n- two\n\n[site](https://example.org "t")'
        " [bad](javascript:alert(1)) <img src=x onerror=alert(1)>\n\n<script>alert('x')</script>\n\n# Title"
    )
    resp = await client.post(PREVIEW, json_body={"text": text})
    assert resp.code == 200, resp
    rendered = resp.json["rendered"]
    assert "<p>Hello <strong>world</strong>, <em>again</em><br>next line</p>" in rendered
    assert "<ul><li>one</li><li>two</li></ul>" in rendered
    assert '<a href="https://example.org" title="t" rel="noopener noreferrer">site</a>' in rendered
    for banned in ("<script", "alert('x')", "javascript:", "<img", "onerror", "<h1"):
        assert banned not in rendered, (banned, rendered)
    resp = await client.post(PREVIEW, json_body={"text": "# Title\n\n<script>x()</script>", "permissive": True})
    assert resp.code == 200 and resp.json["rendered"] == "<h1>Title</h1>", resp

    assert (await client.post(PREVIEW, json_body={"text": ""})).json == {"rendered": ""}
    resp = await client.post(PREVIEW, json_body={})
    assert resp.code == 400 and resp.json["detail"] == "Invalid input", resp
