"""Helpers of the federation music tests: a library of real imported audio made over an instance's API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .audio import make_audio, make_cover
from .test_uploads import form, settled, upload

AP = {"Accept": "application/activity+json"}
LICENSE = "http://creativecommons.org/licenses/by-sa/4.0/"


async def library_with_audio(
    server: Any, client: Any, tmp_path: Path, privacy: str = "everyone", titles: tuple[str, ...] = ("Dawn", "Dusk")
) -> tuple[dict[str, Any], list[str]]:
    """A library of `client`'s (created over the API) holding one imported tagged mp3 per title, with a cover,
    genres, a license, a copyright and a comment: (the library JSON, the upload uuids)."""
    made = await client.post("/api/v1/libraries/", json_body={"name": f"Shared {privacy}", "privacy_level": privacy})
    assert made.code == 201, made
    uploads = []
    for position, title in enumerate(titles, 1):
        path = make_audio(
            tmp_path / made.json["uuid"],
            f"{position}-{title}",
            "mp3",
            title=title,
            artist="Aurora Tones",
            album="First Light",
            track=f"{position}/{len(titles)}",
            disc="1",
            date="2019-03-01",
            genre=["Ambient", "Electronic"],
            cover=make_cover("purple"),
            license=LICENSE,
            copyright="2019 Aurora Tones",
            comment=f"Test tone {title}",
        )
        resp = await upload(client, form({"library": made.json["uuid"]}, path.read_bytes(), filename=path.name))
        assert resp.code == 201, resp
        assert (await settled(client, resp.json["uuid"], server.ctx.clock))["import_status"] == "finished"
        uploads.append(resp.json["uuid"])
    return made.json, uploads


async def query(server: Any, statement: str, *params: Any) -> list[dict[str, Any]]:
    """Run one SQL statement in `server`'s database; its rows (none for a statement without results)."""

    def run(txn: Any) -> list[dict[str, Any]]:
        txn.execute(statement, params)
        return txn.fetchall() if txn.description else []

    return await server.ctx.db.run(run, desc="test.query")
