"""Playlist files: M3U (extended) and XSPF out, and the (artist, title) pairs they name in."""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote, urlsplit

from funkwhale.errors import Invalid
from funkwhale.xmlchars import xml_safe

FORMATS = {"m3u": "audio/x-mpegurl", "xspf": "application/xspf+xml"}
XSPF_NS = "http://xspf.org/ns/0/"
# What could end an M3U line for some reader: control characters (\n, \r, \x0b, \x85, ...) and Unicode line and
# paragraph separators (str.splitlines breaks at all of them).
_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class BadPlaylistFile(Invalid):
    """The content is not a playlist file we can read (a refusal of the `content` field)."""

    def __init__(self, message: str) -> None:
        super().__init__(fields={"content": [message]})


def _duration(track: dict[str, Any]) -> int | None:
    durations = [u["duration"] for u in track["uploads"] if u["duration"]]
    return max(durations) if durations else None


def _one_line(text: str) -> str:
    """`text` with anything that could break its line replaced by a space: a title cannot add an entry."""
    return _LINE_BREAKING.sub(" ", text)


def to_m3u(tracks: list[dict[str, Any]], base_url: str) -> str:
    """An extended M3U of rendered tracks (catalog JSON): one `#EXTINF` and one absolute listen URL each."""
    lines = ["#EXTM3U"]
    for track in tracks:
        label = _one_line(f"{track['artist']['name']} - {track['title']}")
        lines.append(f"#EXTINF:{_duration(track) or -1},{label}")
        lines.append(base_url.rstrip("/") + track["listen_url"])
    return "\n".join(lines) + "\n"


def to_xspf(name: str, tracks: list[dict[str, Any]], base_url: str) -> bytes:
    """An XSPF document of rendered tracks: location, title, creator, album, duration (ms)."""
    root = ET.Element("playlist", {"version": "1", "xmlns": XSPF_NS})
    ET.SubElement(root, "title").text = xml_safe(name)
    track_list = ET.SubElement(root, "trackList")
    for track in tracks:
        item = ET.SubElement(track_list, "track")
        ET.SubElement(item, "location").text = base_url.rstrip("/") + track["listen_url"]
        ET.SubElement(item, "title").text = xml_safe(track["title"])
        ET.SubElement(item, "creator").text = xml_safe(track["artist"]["name"])
        if track["album"] is not None:
            ET.SubElement(item, "album").text = xml_safe(track["album"]["title"])
        duration = _duration(track)
        if duration:
            ET.SubElement(item, "duration").text = str(duration * 1000)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _split(text: str) -> tuple[str | None, str]:
    """ "Artist - Title" -> (artist, title); a bare title has no artist."""
    artist, sep, title = text.partition(" - ")
    return (artist.strip() or None, title.strip()) if sep and title.strip() else (None, text.strip())


def parse_m3u(content: str) -> list[tuple[str | None, str]]:
    """(artist, title) per entry: from `#EXTINF:duration,Artist - Title`, else from the file name."""
    wanted: list[tuple[str | None, str]] = []
    pending: tuple[str | None, str] | None = None
    for raw in content.splitlines():
        line = raw.strip()
        if line.upper().startswith("#EXTINF:"):
            pending = _split(line.partition(",")[2])
        elif line and not line.startswith("#"):
            if pending is None or not pending[1]:
                stem = posixpath.splitext(posixpath.basename(unquote(urlsplit(line).path).replace("\\", "/")))[0]
                pending = _split(stem)
            if pending[1]:
                wanted.append(pending)
            pending = None
    return wanted


def parse_xspf(content: str) -> list[tuple[str | None, str]]:
    """(creator, title) of each XSPF track that has a title."""
    if "<!DOCTYPE" in content.upper() or "<!ENTITY" in content.upper():
        raise BadPlaylistFile("Document type declarations are not allowed.")
    try:
        root = ET.fromstring(content)
    except ET.ParseError as e:
        raise BadPlaylistFile(f"Invalid XSPF: {e}") from None
    wanted = []
    for track in root.iter(f"{{{XSPF_NS}}}track"):
        title = (track.findtext(f"{{{XSPF_NS}}}title") or "").strip()
        creator = (track.findtext(f"{{{XSPF_NS}}}creator") or "").strip()
        if title:
            wanted.append((creator or None, title))
    return wanted


def parse(content: str, fmt: str | None) -> list[tuple[str | None, str]]:
    """The entries of an M3U or XSPF file (`fmt` None: guessed from the content)."""
    if fmt is None:
        fmt = "xspf" if content.lstrip().startswith("<") else "m3u"
    if fmt not in FORMATS:
        raise BadPlaylistFile(f'"{fmt}" is not a playlist format (m3u, xspf).')
    return parse_xspf(content) if fmt == "xspf" else parse_m3u(content)
