"""Subsonic XML: the writer's rules (attributes, text, lists, nested elements, booleans, numbers, escaping, pieces)
on trees, and over HTTP the XML answers of every big list endpoint, with odd names, read back as the same tree as
their JSON answers (a writer of its own, orjson)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
import pytest_twisted

from funkwhale.subsonic import render
from funkwhale.xmlchars import xml_safe

from . import catalog_factories as cf
from .subsonic_helpers import NS, Subsonic

HEAD = '<?xml version="1.0" encoding="UTF-8"?><subsonic-response xmlns="http://subsonic.org/restapi"'


def xml(body: dict[str, Any]) -> str:
    """The document `body` renders as, without its head."""
    text = render.render(body, "xml", None)[0].decode()
    assert text.startswith(HEAD)
    return text[len(HEAD) :]


def test_scalars_are_attributes_in_order_with_booleans_and_numbers_as_subsonic_writes_them():
    body = {"a": {"id": "x-1", "isDir": False, "starred": True, "n": 0, "big": 2**40, "gain": -6.5, "zero": -0.0}}
    assert xml(body) == (
        '><a id="x-1" isDir="false" starred="true" n="0" big="1099511627776" gain="-6.5" zero="-0.0"/>'
        "</subsonic-response>"
    )
    assert xml({"a": {"x": None, "y": ""}, "b": [{"n": 1}, {"n": True}, {"n": 1.0}]}) == (
        '><a y=""/><b n="1"/><b n="true"/><b n="1.0"/></subsonic-response>'
    )


def test_attributes_and_texts_are_escaped_and_keep_no_character_xml_forbids():
    odd = 'Tom & "Jerry" <live> it\'s\ttab\nline\rret \x01\x1b\x7f \ud800\ufffe\uffff 🎵 Über'
    written = "Tom &amp; &quot;Jerry&quot; &lt;live&gt; it's&#9;tab&#10;line&#13;ret \x7f  🎵 Über"
    assert xml({"a": {"name": odd, "value": odd}, "b": [odd]}) == (
        f'><a name="{written}">{written}</a><b>{written}</b></subsonic-response>'
    )
    root = ET.fromstring(render.render({"a": {"name": odd}}, "xml", None)[0])
    assert root.find(f"{NS}a").attrib["name"] == xml_safe(odd)  # what a client reads back


def test_dicts_are_elements_lists_repeat_them_and_an_element_closes_itself_when_empty():
    body = {
        "list": {
            "song": [
                {"id": "1", "genres": [{"name": "A"}, {"name": "B"}], "replayGain": {}, "artists": []},
                {"id": "2", "title": "T", "genres": [], "replayGain": {"trackGain": 1.5}},  # keys that others lack
                {"title": "U", "id": "3"},  # its keys in an order of its own
                None,
                {"id": "4", "genres": None, "value": "text"},
            ],
            "empty": [],
            "tags": ["a", 1, True, None],
        }
    }
    assert xml(body) == (
        '><list><song id="1"><genres name="A"/><genres name="B"/><replayGain/></song>'
        '<song id="2" title="T"><replayGain trackGain="1.5"/></song><song title="U" id="3"/>'
        '<song id="4">text</song><tags>a</tags><tags>1</tags><tags>true</tags></list></subsonic-response>'
    )


def test_a_long_list_reads_back_as_its_tree():
    """Three hundred songs of two shapes with optional keys, nested lists, odd text, booleans and numbers."""
    songs = [
        render.Clean(
            id=f"tr-{i}",
            title=["plain", "A & B", 'quote "q"', "ctl\x02", ""][i % 5],
            isDir=False,
            size=i * 1000,
            year=2000 + i % 3,
            **({"starred": "2026-01-01T00:00:00.000Z"} if i % 7 == 0 else {}),
            genres=[{"name": f"G{j}"} for j in range(i % 3)],
            artists=[{"id": f"ar-{i}", "name": "<x>"}],
            gain={"trackGain": i / 4} if i % 2 else {},
            **({"userRating": i % 5} if i % 5 else {}),
        )
        for i in range(300)
    ]
    root = ET.fromstring(render.render({"searchResult3": {"song": songs}}, "xml", None)[0])
    assert [tree_of(e) for e in root.find(f"{NS}searchResult3")] == [tree_of(s) for s in songs]


def test_a_piece_is_spliced_as_it_was_written():
    items = [{"name": "A", "artist": [{"id": "ar-1", "name": "Ab & <c>"}]}, None, {"name": "B"}]
    spliced = render.piece("xml", render.write_piece("xml", "index", items))
    written = '<index name="A"><artist id="ar-1" name="Ab &amp; &lt;c&gt;"/></index><index name="B"/>'
    assert xml({"artists": {"ignoredArticles": "The", "index": spliced}}) == (
        f'><artists ignoredArticles="The">{written}</artists></subsonic-response>'
    )
    in_a_list = xml({"a": [{"p": spliced}, {"q": 1, "p": spliced}]})
    assert in_a_list == f'><a>{written}</a><a q="1">{written}</a></subsonic-response>'


def tree_of(value: Any) -> Any:
    """What a client reads of an element: a parsed one, or one of a tree or a JSON answer as the mapping rules
    write it (attributes as text, children by name, `value` the text, without what XML cannot hold)."""
    if isinstance(value, ET.Element):
        out: dict[str, Any] = dict(value.attrib)
        if value.text:
            out["value"] = value.text
        for child in value:
            out.setdefault(child.tag.removeprefix(NS), []).append(tree_of(child))
        return out
    if not isinstance(value, dict):
        return tree_of({"value": value})
    out = {}
    for key, item in value.items():
        if isinstance(item, dict):
            out[key] = [tree_of(item)]
        elif isinstance(item, list):
            if any(i is not None for i in item):
                out[key] = [tree_of(i) for i in item if i is not None]
        elif item is not None and (key != "value" or item != ""):
            out[key] = ("true" if item else "false") if isinstance(item, bool) else xml_safe(str(item))
    return out


ODD = ['Tom & "Jerry" <live>', "it's\ttab and\nline", "ctl\x01\x1bchars", "emoji 🎵 𝄞", "Über", "a]]>b"]


@pytest.fixture
def odd_catalog(db_conn, alice):
    """Alice's library: artists, albums and 210 songs (more than render.LARGE) named with odd characters."""
    library = cf.insert_library(db_conn, alice, "me")
    tracks = []
    for i, name in enumerate(ODD):
        artist = cf.insert_artist(db_conn, f"{name} {i}")
        album = cf.insert_album(db_conn, artist, f"{name} album")
        cf.tag(db_conn, "album", album, f"Genre {i}")
        tracks += [
            cf.playable_track(db_conn, library, artist, f"{ODD[(i + j) % len(ODD)]} {j}", album, position=j)
            for j in range(35)
        ]
    return tracks


@pytest_twisted.ensureDeferred
async def test_every_big_answer_reads_the_same_in_xml_and_json(web_server, db_conn, alice, odd_catalog):
    api = Subsonic(web_server, alice)
    first = f"tr-{odd_catalog[0]['id']}"
    # every song starred: getStarred(2) answers more than render.LARGE items, built and written at once (render.Later)
    await api.ok("star", id=[f"tr-{t['id']}" for t in odd_catalog], albumId=f"al-{odd_catalog[0]['album_id']}",
                 artistId=f"ar-{odd_catalog[0]['artist_id']}")  # fmt: skip
    await api.ok("setRating", id=first, rating=4)
    playlist = await api.ok("createPlaylist", name='Mix & "more"', songId=[f"tr-{t['id']}" for t in odd_catalog])
    calls = [
        ("search3", {"query": '""', "songCount": 500, "albumCount": 500, "artistCount": 500}),
        ("search3", {"query": "Jerry"}),
        ("getAlbumList2", {"type": "alphabeticalByName", "size": 500}),
        ("getAlbumList", {"type": "newest", "size": 500}),
        ("getArtists", {}),
        ("getIndexes", {}),
        ("getMusicDirectory", {"id": f"ar-{odd_catalog[0]['artist_id']}"}),
        ("getMusicDirectory", {"id": f"al-{odd_catalog[0]['album_id']}"}),
        ("getAlbum", {"id": f"al-{odd_catalog[0]['album_id']}"}),
        ("getArtist", {"id": f"ar-{odd_catalog[0]['artist_id']}"}),
        ("getPlaylist", {"id": playlist["playlist"]["id"]}),
        ("getPlaylists", {}),
        ("getStarred", {}),
        ("getStarred2", {}),
        ("getGenres", {}),
        ("getSong", {"id": first}),
    ]
    for method, params in calls:
        answer = await api.ok(method, **params)
        root = await api.xml(method, **params)
        assert tree_of(root) == tree_of(answer), method
    assert len((await api.xml("search3", query='""', songCount=500)).findall(f"{NS}searchResult3/{NS}song")) == 210
    assert len((await api.xml("getStarred2")).findall(f"{NS}starred2/{NS}song")) == 210
