"""Helpers of the federation music tests: a library of real imported audio made over an instance's API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .audio import make_audio, make_cover
from .test_uploads import form, settled, upload

AP = {"Accept": "application/activity+json"}
LICENSE = "http://creativecommons.org/licenses/by-sa/4.0/"


async def add_audio(server: Any, client: Any, library_uuid: str, tmp_path: Path, title: str, position: int = 1) -> str:
    """Upload one tagged mp3 (a cover, genres, a license, a copyright, a comment) into the library, imported;
    its upload uuid."""
    path = make_audio(
        tmp_path / library_uuid,
        f"{position}-{title}",
        "mp3",
        title=title,
        artist="Aurora Tones",
        album="First Light",
        track=f"{position}/9",
        disc="1",
        date="2019-03-01",
        genre=["Ambient", "Electronic"],
        cover=make_cover("purple"),
        license=LICENSE,
        copyright="2019 Aurora Tones",
        comment=f"Test tone {title}",
    )
    resp = await upload(client, form({"library": library_uuid}, path.read_bytes(), filename=path.name))
    assert resp.code == 201, resp
    assert (await settled(client, resp.json["uuid"], server.ctx.clock))["import_status"] == "finished"
    return resp.json["uuid"]


async def library_with_audio(
    server: Any, client: Any, tmp_path: Path, privacy: str = "everyone", titles: tuple[str, ...] = ("Dawn", "Dusk")
) -> tuple[dict[str, Any], list[str]]:
    """A library of `client`'s (created over the API) holding one imported file per title: (the library JSON,
    the upload uuids)."""
    made = await client.post("/api/v1/libraries/", json_body={"name": f"Shared {privacy}", "privacy_level": privacy})
    assert made.code == 201, made
    uploads = [
        await add_audio(server, client, made.json["uuid"], tmp_path, title, position)
        for position, title in enumerate(titles, 1)
    ]
    return made.json, uploads
