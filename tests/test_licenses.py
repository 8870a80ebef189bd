"""/api/v1/licenses/: the known licenses, paginated, and one by its code (with or without a trailing slash)."""

from __future__ import annotations

import pytest_twisted


@pytest_twisted.ensureDeferred
async def test_licenses_list_and_detail(web_server):
    client = web_server.client()
    page = (await client.get("/api/v1/licenses/?page_size=5")).json
    assert page["count"] > 30 and len(page["results"]) == 5 and page["previous"] is None
    assert page["next"] == "http://test.funkwhale.local/api/v1/licenses/?page_size=5&page=2"
    assert [entry["code"] for entry in page["results"]][:2] == ["LAL-1.3", "cc-by-1.0"]
    for path in ("/api/v1/licenses/cc-by-sa-4.0", "/api/v1/licenses/cc-by-sa-4.0/"):
        resp = await client.get(path)
        assert resp.code == 200, resp
        assert resp.json == {
            "id": "http://creativecommons.org/licenses/by-sa/4.0/",
            "url": "https://creativecommons.org/licenses/by-sa/4.0/",
            "code": "cc-by-sa-4.0",
            "name": "Creative commons - Attribution-ShareAlike 4.0",
            "redistribute": True,
            "derivative": True,
            "commercial": True,
            "attribution": True,
            "copyleft": True,
        }
    assert (await client.get("/api/v1/licenses/cc-by-xx-9.0")).code == 404
    assert (await client.get("/api/v1/licenses/?page=99")).code == 404
