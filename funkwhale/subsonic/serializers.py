"""Rows of funkwhale.subsonic.store as Subsonic / OpenSubsonic elements: song (Child), album (AlbumID3 or a
directory Child), artist (ArtistID3 or an index Artist), directory, genre.

Every attribute clients read is present: ids are strings (ids.py), dates ISO-8601 UTC, numbers integers; the
OpenSubsonic fields this server supports are always sent (empty when unknown) so clients can tell.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from funkwhale.music import formats, sources
from funkwhale.subsonic import ids
from funkwhale.subsonic.render import Clean, CleanList, iso

DEFAULT_MIMETYPE = "audio/mpeg"  # some clients fail on an empty contentType (Funkwhale's serializers)
_REPLAYGAIN = {"track_gain": "trackGain", "track_peak": "trackPeak", "album_gain": "albumGain",
               "album_peak": "albumPeak"}  # fmt: skip


def _ref(kind: str, number: int | None, name: str | None) -> list[dict[str, Any]]:
    """OpenSubsonic's `artists` / `albumArtists` list (only the required ArtistID3 fields)."""
    return [] if number is None else [{"id": ids.make(kind, number), "name": name or ""}]


def suffix(audio_file: str | None, source: str | None, original_name: str | None, mimetype: str | None) -> str:
    """The file extension of a song's upload: from its file name, else from its mimetype."""
    for name in (audio_file, sources.local_name(source), original_name):
        extension = formats.extension_of(name)
        if extension:
            return extension
    audio = formats.by_mimetype(mimetype)
    return audio.extension if audio else "mp3"


def _path_part(text: str | None) -> str:
    if not text:
        return "Unknown"
    return text.replace("/", "-").strip()[:100] or "Unknown"


@lru_cache(maxsize=4096)
def _folder(artist: str, album: str) -> str:
    """The `Artist/Album/` a song's path starts with: the same for an album's songs, made once (a 2,000-song list
    asked it 2,000 times)."""
    return f"{_path_part(artist)}/{_path_part(album)}/"


_NUMBERED = tuple(f"{position:02d} - " for position in range(100))  # a path's `NN - ` for the usual positions


def songs(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Song rows as Child elements, in a CleanList (none of them holds None)."""
    return CleanList(map(song, rows))


def song(row: tuple[Any, ...]) -> dict[str, Any]:
    """A song row (a tuple of store.SONG_FIELDS, in that order) as a Child element, built without None (in a list,
    `songs` marks it so: the JSON writer need not walk it), in one dict display (a sync page builds 500)."""
    (number, title, position, disc_number, mbid, created, album_number, artist_number, own_cover, artist_name,
     album_title, album_artist_number, album_artist_name, album_cover, year, mimetype, size, duration, bitrate,
     sample_rate, audio_file, source, original_name, gains, genres, starred, rating, played, play_count,
     _) = row  # fmt: skip
    extension = formats.extension_of(audio_file) or suffix(None, source, original_name, mimetype)
    artist_name = artist_name or ""
    album_artist_name = album_artist_name or ""
    title = title or ""
    bitrate = (bitrate or 0) // 1000
    artist_id = None if artist_number is None else f"{ids.ARTIST}-{artist_number}"
    album_id = None if album_number is None else f"{ids.ALBUM}-{album_number}"
    if not position:
        number_prefix = ""
    else:
        number_prefix = _NUMBERED[position] if 0 < position < 100 else f"{position:02d} - "
    artists = [] if artist_id is None else [{"id": artist_id, "name": artist_name}]
    if album_artist_number == artist_number and album_artist_name == artist_name:
        album_artists = artists  # most albums are their songs' artist's: the same list, made once
    else:
        album_artists = _ref(ids.ARTIST, album_artist_number, album_artist_name)
    out: dict[str, Any] = {
        "id": f"{ids.TRACK}-{number}",
        "isDir": False,
        "title": title,
        "artist": artist_name,
        "discNumber": disc_number or 1,  # clients group songs by disc
        "size": size or 0,
        "contentType": formats.served_as(extension) or mimetype or DEFAULT_MIMETYPE,
        "suffix": extension,
        "duration": duration or 0,
        "bitRate": bitrate,
        "bitrate": bitrate,  # Funkwhale 1.4's spelling, beside Subsonic's
        "path": f"{_folder(album_artist_name or artist_name, album_title or 'Singles')}{number_prefix}"
        f"{_path_part(title)}.{extension}",
        "isVideo": False,
        "playCount": play_count or 0,
        "type": "music",
        "mediaType": "song",
        "musicBrainzId": str(mbid) if mbid else "",
        "sortName": "",
        "genres": [{"name": name} for name in genres if name is not None] if genres else [],
        "artists": artists,
        "displayArtist": artist_name,
        "albumArtists": album_artists,
        "displayAlbumArtist": album_artist_name,
        "replayGain": {_REPLAYGAIN[k]: v for k, v in gains.items() if k in _REPLAYGAIN and v is not None}
        if gains
        else {},
        "explicitStatus": "",
    }
    # the optional fields, in order, each only when known
    if album_id is not None:
        out["parent"] = album_id
    if album_title is not None:
        out["album"] = album_title
    if position is not None:
        out["track"] = position
    if year is not None:
        out["year"] = year
    if out["genres"]:
        out["genre"] = out["genres"][0]["name"]
    if own_cover:
        out["coverArt"] = out["id"]
    elif album_cover and album_id is not None:
        out["coverArt"] = album_id
    if sample_rate is not None:
        out["samplingRate"] = sample_rate
    if played is not None:
        out["played"] = iso(played)
    if created is not None:
        out["created"] = iso(created)
    if starred is not None:
        out["starred"] = iso(starred)
    if rating is not None:
        out["userRating"] = rating
    if album_id is not None:
        out["albumId"] = album_id
    if artist_id is not None:
        out["artistId"] = artist_id
    return out


def _album_common(row: dict[str, Any], out: Clean) -> Clean:
    """`out` with the fields AlbumID3 and an album Child share, in that order, none of them None."""
    get = row.get
    album_id = ids.make(ids.ALBUM, row["id"])
    out["id"] = album_id
    out["artist"] = get("artist_name") or ""
    out["artistId"] = ids.make(ids.ARTIST, row["artist_id"])
    if get("has_cover"):
        out["coverArt"] = album_id
    out["songCount"] = get("song_count") or 0
    out["duration"] = get("duration") or 0
    out["playCount"] = get("play_count") or 0
    played, starred, rating, year, genres = get("played"), get("starred"), get("rating"), get("year"), get("genres")
    if played is not None:
        out["played"] = iso(played)
    created = iso(row["creation_date"])
    if created is not None:
        out["created"] = created
    if starred is not None:
        out["starred"] = iso(starred)
    if rating is not None:
        out["userRating"] = rating
    if year is not None:
        out["year"] = year
    if genres:
        out["genre"] = genres[0]
    return out


def album(row: dict[str, Any], song_rows: list[tuple[Any, ...]] | None = None) -> dict[str, Any]:
    """An album as AlbumID3 (with its `song` list when given), built without None (render.Clean) when it has no
    songs; with them, a plain dict whose songs are a CleanList, so that the list is counted by `render.is_large`."""
    out = _album_common(row, Clean())
    name = row.get("artist_name")
    out["name"] = row["title"] or ""
    out["musicBrainzId"] = str(row["mbid"]) if row.get("mbid") else ""
    out["genres"] = [{"name": name} for name in row.get("genres") or ()]
    out["artists"] = _ref(ids.ARTIST, row["artist_id"], name)
    out["displayArtist"] = name or ""
    out["sortName"] = ""
    out["isCompilation"] = False
    out["explicitStatus"] = ""
    if song_rows is None:
        return out
    return {**out, "song": songs(song_rows)}


def album_child(row: dict[str, Any]) -> dict[str, Any]:
    """An album as a directory Child (getAlbumList, getMusicDirectory of an artist), built without None."""
    out = _album_common(row, Clean())
    title = row["title"] or ""
    out["parent"] = ids.make(ids.ARTIST, row["artist_id"])
    out["isDir"] = True
    out["title"] = title
    out["name"] = title
    out["album"] = title
    out["mediaType"] = "album"
    return out


def artist(row: dict[str, Any], albums: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An artist as ArtistID3 (with its `album` list when given), built without None when it has no albums."""
    artist_id = ids.make(ids.ARTIST, row["id"])
    out = Clean(id=artist_id, name=row["name"] or "")
    if row.get("has_cover"):
        out["coverArt"] = artist_id
    out["albumCount"] = row.get("album_count") or 0
    starred = iso(row.get("starred"))
    if starred is not None:
        out["starred"] = starred
    out["musicBrainzId"] = str(row["mbid"]) if row.get("mbid") else ""
    out["sortName"] = ""
    if albums is None:
        return out
    return {**out, "album": [album(a) for a in albums]}


def index_artist(row: dict[str, Any]) -> dict[str, Any]:
    """An artist as getIndexes lists it (Artist); with the album count and cover of rows that have them
    (getIndexes' own), as Funkwhale 1.4 lists them there. Built without None."""
    artist_id = ids.make(ids.ARTIST, row["id"])
    out = Clean(id=artist_id, name=row["name"] or "")
    starred, rating = row.get("starred"), row.get("rating")
    if starred is not None:
        out["starred"] = iso(starred)
    if rating is not None:
        out["userRating"] = rating
    if "album_count" in row:
        out["albumCount"] = row["album_count"] or 0
        if row.get("has_cover"):
            out["coverArt"] = artist_id
    return out


def artist_directory(row: dict[str, Any]) -> dict[str, Any]:
    """getMusicDirectory of an artist: its albums as directories."""
    return {
        "id": ids.make(ids.ARTIST, row["id"]),
        "name": row["name"] or "",
        "starred": iso(row.get("starred")),
        "userRating": row.get("rating"),
        "child": [album_child(a) for a in row.get("albums") or []],
    }


def album_directory(row: dict[str, Any]) -> dict[str, Any]:
    """getMusicDirectory of an album: its songs."""
    return {
        "id": ids.make(ids.ALBUM, row["id"]),
        "parent": ids.make(ids.ARTIST, row["artist_id"]),
        "name": row["title"] or "",
        "starred": iso(row.get("starred")),
        "userRating": row.get("rating"),
        "playCount": row.get("play_count") or 0,
        "child": songs(row.get("songs") or []),
    }


def genre(row: dict[str, Any]) -> dict[str, Any]:
    return {"value": row["name"], "songCount": row["song_count"], "albumCount": row["album_count"]}
