"""Funkwhale API fidelity, shapes: seed an instance as the Funkwhale 1.4.0 reference pod was seeded (alice, her
library of 12 tagged tones from two artists and three albums, an OAuth app), replay every request of the captured
`_index.json` in order (so its POSTs create the favorite, listening, playlist, radio, sessions and content filter),
and compare each answer's shape (keys, nesting, JSON types, nullability) with Funkwhale's own answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest_twisted

from . import catalog_factories as cf
from .api_shapes import shape_differences
from .audio import make_audio, make_cover
from .test_libraries import Session
from .test_uploads import form, settled, upload

REFERENCE = Path("/work/shared/reference/funkwhale-1.4-responses")

# Free-form values (what a file or an import said, an instance setting's value): only their type is compared.
OPAQUE = {"metadata", "import_metadata", "import_details", "value", "default"}
# Paths the capture shows set but Funkwhale's OpenAPI schema declares nullable, per capture.
NULLABLE = {
    "users-me": ["$.instance_support_message_display_date", "$.funkwhale_support_message_display_date"],
}
# What OpenSubsonic adds to every answer (its server marker and version).
OPENSUBSONIC = {"openSubsonic", "serverVersion"}
# Our Subsonic ids are typed (subsonic/ids.py): the captured bare `id=1` of these requests, in our spelling.
SUBSONIC_IDS = {
    "subsonic-getArtist": "ar-1",
    "subsonic-getAlbum": "al-1",
    "subsonic-getAlbum-view-suffix": "al-1",
    "subsonic-getPlaylist": "pl-1",
}
# Captures not compared here, each with its reason. Keep this list as short as possible.
SKIPPED = {
    "nodeinfo-2.0": "nodeinfo: checked by the federation tests",
    "nodeinfo-2.1": "nodeinfo: checked by the federation tests",
}
# Why a Subsonic answer differs. Each difference was weighed against OpenSubsonic's schema
# (tests/opensubsonic/schemas): Funkwhale 1.4's types would break the OpenSubsonic clients that decode them strictly
# (typed decoders: a number or "true" where the schema says string or boolean is a decode error), while the keys
# OpenSubsonic adds are ignored by Subsonic clients, which Funkwhale's own answers are read by. So keys Funkwhale
# has and we lacked were added (songs' `bitrate`, getIndexes' albumCount and coverArt); types stay OpenSubsonic's.
IDS = (
    "ids are strings (OpenSubsonic's schema: Child.id, ArtistID3.id... are strings; ours are typed, ar-1/al-1, so"
    " one number never names two kinds) where Funkwhale sends numbers"
)
BOOLS = 'JSON booleans as OpenSubsonic\'s schema types them, where Funkwhale sends "true"/"false" strings'
SONGS = "songs carry OpenSubsonic's extra keys (bitRate, genres, artists, replayGain...), which Subsonic clients ignore"
ALBUM_KEYS = "albums carry OpenSubsonic's extra keys (genres, artists, isCompilation...), which Subsonic clients ignore"
NO_PICTURE = (
    "an artist without a picture has no coverArt (1.4 always says ar-<id>, which then fails to load: without it"
    " clients show their placeholder at once)"
)
NO_COVER_ART = ".artist[]: missing keys ['coverArt']"  # the end of the NO_PICTURE difference
KNOWN_GAPS: dict[str, str] = {
    "subsonic-getLicense": "license.valid: " + BOOLS,
    "subsonic-getArtists": IDS + "; musicBrainzId/sortName added; " + NO_PICTURE,
    "subsonic-getIndexes": IDS + "; Subsonic's lastModified (required by its schema) added; " + NO_PICTURE,
    "subsonic-getArtist": IDS + "; " + ALBUM_KEYS,
    "subsonic-getAlbumList2": IDS + "; " + ALBUM_KEYS,
    "subsonic-getAlbum": IDS + "; isDir: " + BOOLS + "; " + SONGS + "; " + ALBUM_KEYS,
    "subsonic-getAlbum-view-suffix": IDS + "; isDir: " + BOOLS + "; " + SONGS + "; " + ALBUM_KEYS,
    "subsonic-getSong": IDS + "; isDir: " + BOOLS + "; " + SONGS,
    "subsonic-search3": IDS + "; isDir: " + BOOLS + "; " + SONGS,
    "subsonic-getStarred2": IDS + "; isDir: " + BOOLS + "; " + SONGS + "; starred albums and artists listed too"
    " (1.4 lists songs only)",
    "subsonic-getPlaylists": IDS + "; public: " + BOOLS + "; Subsonic's changed (required), comment, coverArt and"
    " readonly added",
    "subsonic-getPlaylist": IDS + "; public, isDir: " + BOOLS + "; " + SONGS,
    "subsonic-getUser": "roles: " + BOOLS + "; Subsonic's maxBitRate and videoConversionRole (required) added",
    "oauth-apps-list": "token: 1.4 lists each app's personal token, which is only kept hashed here",
}

# (artist, album, release date, genres, copyright of the first two tracks, cover colour, titles), as captured.
ALBUMS = [
    (
        "Aurora Tones",
        "First Light",
        "2019-03-01",
        ["Ambient", "Electronic"],
        "2019 Aurora Tones",
        "purple",
        ["Dawn Chorus", "Morning Haze", "Love in Sine", "Daylight Drift"],
    ),
    (
        "Aurora Tones",
        "Night Signals",
        "2021-05-01",
        ["Electronic", "Synthwave"],
        "2021 Aurora Tones",
        "blue",
        ["Midnight Carrier", "Love Frequency", "Static Stars", "Last Transmission"],
    ),
    (
        "Brass Oscillator",
        "Sine Language",
        "2020-01-01",
        ["Jazz"],
        "2020 Brass Oscillator",
        "orange",
        ["Blue Hertz", "Modal Wave", "Square Dance", "Coda in A"],
    ),
]
LICENSE = "http://creativecommons.org/licenses/by-sa/4.0/"


def reference(name: str) -> Any:
    return json.loads((REFERENCE / f"{name}.json").read_text())


async def seed(server: Any, db_conn: Any, tmp_path: Path) -> tuple[Session, dict[str, str]]:
    """alice and her imported library, uploaded one file at a time so ids follow the capture's; the
    substitutions from the capture's uuids to ours."""
    alice = cf.insert_listener(db_conn, "alice")
    me = Session(server, db_conn, alice)
    made = await me.post("/api/v1/libraries/", json_body={"name": "Reference", "privacy_level": "everyone"})
    assert made.code == 201, made
    library = made.json["uuid"]
    uploads = []
    for artist, album, date, genres, copyright, colour, titles in ALBUMS:
        cover = make_cover(colour)
        for position, title in enumerate(titles, 1):
            licensed = position <= 2
            path = make_audio(
                tmp_path,
                f"{album}-{position}",
                "mp3",
                title=title,
                artist=artist,
                album=album,
                track=f"{position}/4",
                disc="1",
                date=date,
                genre=genres,
                cover=cover,
                license=LICENSE if licensed else None,
                copyright=copyright if licensed else None,
                comment=f"Test tone: {title}",
            )
            resp = await upload(me, form({"library": library}, path.read_bytes(), filename=f"{title}.mp3"))
            assert resp.code == 201, resp
            assert (await settled(me, resp.json["uuid"], server.ctx.clock))["import_status"] == "finished"
            uploads.append(resp.json["uuid"])
    app = await me.post(
        "/api/v1/oauth/apps/",
        json_body={"name": "fwpeer-harness", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"},
    )
    assert app.code == 201, app
    meta = reference("_meta")
    # the captured paths' integer ids are the seeding order's (tables start empty, identities restarted)
    for kind, title in (("track", "Dawn Chorus"), ("track2", "Blue Hertz")):
        assert (await me.get(f"/api/v1/tracks/{meta['ids'][kind]}/")).json["title"] == title
    assert (await me.get(f"/api/v1/artists/{meta['ids']['artist2']}/")).json["name"] == "Brass Oscillator"
    return me, {meta["library_uuid"]: library, meta["ids"]["upload"]: uploads[0]}


@pytest_twisted.ensureDeferred
async def test_answers_have_funkwhale_shapes(server, db_conn, tmp_path):
    me, substitutions = await seed(server, db_conn, tmp_path)
    anonymous = server.client()
    subsonic_token = ""
    failures: dict[str, list[str]] = {}
    index = reference("_index")
    captured_filter = next(e for e in index if e["name"] == "content-filters-delete")["path"].split("/")[-2]
    for entry in index:
        name = entry["name"]
        if name.startswith("fed-") or name in SKIPPED:
            continue
        path = entry["path"].replace("SUBSONIC_TOKEN", subsonic_token)
        for theirs, ours in substitutions.items():
            path = path.replace(theirs, ours)
        if name in SUBSONIC_IDS:
            path = path.replace("&id=1", f"&id={SUBSONIC_IDS[name]}")
        client = me if entry["authenticated"] else anonymous
        resp = await client.request(entry["method"], path, json_body=entry["request_json"])
        if name == "users-subsonic-token":
            subsonic_token = resp.json["subsonic_api_token"]
        elif name == "content-filters-create":  # the capture deletes the filter it made: ours instead
            substitutions[captured_filter] = resp.json["uuid"]
        problems = [] if resp.code == entry["status"] else [f"status {resp.code}, Funkwhale {entry['status']}"]
        if entry["content_type"] is not None and not problems:
            additions = OPENSUBSONIC if name.startswith("subsonic-") else ()
            problems = shape_differences(reference(name), resp.json, NULLABLE.get(name, ()), OPAQUE, additions)
        missing = [p for p in problems if "missing keys" in p and not p.endswith(NO_COVER_ART)]
        if problems and name not in KNOWN_GAPS:
            failures[name] = problems
        elif missing and name.startswith("subsonic-"):  # a Subsonic gap is types and additions, never fewer keys
            failures[name] = missing
        elif not problems and name in KNOWN_GAPS:
            failures[name] = ["matches now: remove it from KNOWN_GAPS"]
    assert not failures, "\n".join(f"{name}:\n  " + "\n  ".join(p) for name, p in failures.items())


def test_shape_differences_names_each_path():
    captured = {"count": 2, "results": [{"id": 1, "cover": None, "tags": ["a"]}, {"id": 2, "cover": {"u": "x"}}]}
    assert shape_differences(captured, {"count": 1, "results": [{"id": 3, "cover": None, "tags": []}]}) == []
    ours = {"count": "1", "results": [{"id": None, "cover": {"u": 1}, "extra": 0}]}
    assert shape_differences(captured, ours) == [
        "$.count: string, Funkwhale has number",
        "$.results[].cover.u: number, Funkwhale has string",
        "$.results[].id: null, Funkwhale has number",
        "$.results[]: extra keys ['extra']",
    ]
    assert shape_differences(captured, {"count": 1, "results": [{"id": 1}]}) == ["$.results[]: missing keys ['cover']"]
    assert shape_differences({"a": "x"}, {"a": None}, nullable=["$.a"]) == []
    assert shape_differences({"m": {"k": 1}}, {"m": {"other": "v"}}, opaque=["m"]) == []
    assert shape_differences({"m": {"k": 1}}, {"m": []}, opaque=["m"]) == ["$.m: array, Funkwhale has object"]
