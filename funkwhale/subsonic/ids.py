"""Typed string ids, as gonic writes them: `ar-12` (artist), `al-34` (album), `tr-56` (track), `pl-7` (playlist).

One prefix tells getMusicDirectory, star, download and getCoverArt what an id names, with one lookup. A cover art
id is the id of what the picture belongs to (`al-34` for an album's cover, `tr-56` for a track's own picture,
`ar-12` for an artist's). Bare numbers are read as tracks, as Funkwhale's own Subsonic API wrote them.
"""

from __future__ import annotations

from funkwhale.subsonic.errors import not_found

ARTIST, ALBUM, TRACK, PLAYLIST = "ar", "al", "tr", "pl"
KINDS = (ARTIST, ALBUM, TRACK, PLAYLIST)


def make(kind: str, number: int | None) -> str | None:
    return None if number is None else f"{kind}-{number}"


def parse(value: str | None, *allowed: str) -> tuple[str, int]:
    """(kind, number) of an id; error 70 for something that is not an id of an `allowed` kind."""
    text = (value or "").strip()
    kind, sep, number = text.partition("-")
    if not sep:
        kind, number = TRACK, text
    if kind not in (allowed or KINDS) or not (number.isascii() and number.isdigit()) or len(number) > 18:
        raise not_found(f"No such item: {text!r}")
    return kind, int(number)


def number(value: str | None, kind: str) -> int:
    """The number of an id that must be of `kind` (error 70 otherwise)."""
    return parse(value, kind)[1]
