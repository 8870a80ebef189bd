"""Importing many uploads in one transaction: artists, then albums, then tracks found or created in sets.

Each kind is matched as the import always matched it (MusicBrainz ids first, then folded names, the oldest row
first), but against the rows of one query per kind; the rows the batch lacks are made by one multi-row INSERT,
and a later upload of the batch finds the rows an earlier one made. The advisory locks on every name and id the
batch may create a row for are taken first, in one statement and in a fixed order (store.lock_names_txn), so
that concurrent imports of overlapping sets wait for each other instead of creating twins, and never deadlock.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from funkwhale.music.importer import store
from funkwhale.music.models import ALREADY_IMPORTED, Metadata
from funkwhale.music.normalize import fold

UNKNOWN_ALBUM = "[Unknown Album]"


@dataclass(frozen=True)
class Item:
    """One upload to import: its row (store.uploads_for_import_txn), its tags, its stored cover."""

    row: dict[str, Any]
    meta: Metadata
    cover_id: int | None


def lock_keys(meta: Metadata) -> list[str]:
    """Every name or id the import may create a row for: artists, the album (tracks are made under its lock),
    MusicBrainz ids (unique) and tags."""
    keys = [f"artist:{fold(n)}" for n in (*meta.artists, *meta.album_artists)]
    album_artist = (meta.album_artists or meta.artists)[0]
    keys.append(f"album:{fold(album_artist)}:{fold(meta.album or UNKNOWN_ALBUM)}")
    keys += [f"mbid:{m}" for m in (*meta.artist_mbids, *meta.album_artist_mbids, meta.album_mbid) if m]
    keys += [f"tag:{g.lower()}" for g in meta.genres]
    return keys


class _Rows:
    """The rows of one kind the batch may match, found (with their ids) or to create (a uuid until inserted),
    indexed by the keys given (name: function of a row; a None key is not indexed); each index lists its rows
    oldest first (found ones by id, then new ones in creation order)."""

    def __init__(self, found: list[dict[str, Any]], **keys: Callable[[dict[str, Any]], Hashable]) -> None:
        self.keys = keys
        self.index: dict[str, dict[Hashable, list[dict[str, Any]]]] = {name: {} for name in keys}
        self.created: list[dict[str, Any]] = []
        for row in found:
            self.add({**row, "new": False})

    def add(self, row: dict[str, Any], *names: str) -> None:
        """Index the row (under `names` only, after a change of those keys)."""
        for name in names or self.keys:
            key = self.keys[name](row)
            if key is not None:
                self.index[name].setdefault(key, []).append(row)

    def first(self, name: str, key: Hashable, where: Callable[[dict[str, Any]], bool] = lambda r: True) -> dict | None:
        return next((r for r in self.index[name].get(key, ()) if where(r)), None)

    def create(self, base_url: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        row = {**store.new_row(base_url, kind), **fields, "new": True}
        self.add(row)
        self.created.append(row)
        return row

    def created_ids(self) -> set[int]:
        """The ids of the rows made (once inserted): no other transaction sees them, nor anything that refers to
        them, until this one commits."""
        return {row["id"] for row in self.created}

    def insert(self, txn: Any, table: str, columns: Iterable[str]) -> None:
        """Create the new rows and give them (and so whoever refers to them) their ids."""
        ids = store.insert_rows_txn(txn, table, [{c: r[c] for c in ("uuid", "fid", *columns)} for r in self.created])
        for row in self.created:
            row["id"] = ids[row["uuid"]]


def _artists(txn: Any, items: list[Item], base_url: str) -> list[tuple[int, int]]:
    """(track artist id, album artist id) of each item."""
    names = [n for i in items for n in (i.meta.artists[:1] + i.meta.album_artists[:1])]
    mbids = [m for i in items for m in (i.meta.artist_mbids[:1] + i.meta.album_artist_mbids[:1])]
    rows = _Rows(
        store.artists_matching_txn(txn, mbids, sorted({fold(n) for n in names})),
        mbid=lambda r: r["mbid"],
        name=lambda r: r["name_key"],
    )
    mbids_found: dict[int, str] = {}

    def unnamed(row: dict[str, Any]) -> bool:
        return row["mbid"] is None

    def artist(name: str, mbid: str | None, owner: int) -> dict[str, Any]:
        key = fold(name)
        if mbid is None:
            row = rows.first("name", key, unnamed) or rows.first("name", key)
        elif (row := rows.first("mbid", mbid)) is None and (row := rows.first("name", key, unnamed)) is not None:
            row["mbid"] = mbid
            rows.add(row, "mbid")
            if not row["new"]:
                mbids_found[row["id"]] = mbid
        return row or rows.create(
            base_url, "artists", {"mbid": mbid, "name": name, "name_key": key, "attributed_to_id": owner}
        )

    pairs = []
    for item in items:
        meta, owner = item.meta, item.row["actor_id"]
        track_artist = artist(meta.artists[0], meta.artist_mbids[0] if meta.artist_mbids else None, owner)
        album_artist = track_artist
        if meta.album_artists:
            mbid = meta.album_artist_mbids[0] if meta.album_artist_mbids else None
            album_artist = artist(meta.album_artists[0], mbid, owner)
        pairs.append((track_artist, album_artist))
    store.set_artist_mbids_txn(txn, mbids_found)
    rows.insert(txn, "artist", ("mbid", "name", "name_key", "attributed_to_id"))
    return [(a["id"], b["id"]) for a, b in pairs]


def _albums(txn: Any, items: list[Item], album_artists: list[int], base_url: str) -> tuple[list[int], set[int]]:
    """The album id of each item, and the ids of the albums made."""
    titles = [i.meta.album or UNKNOWN_ALBUM for i in items]
    mbids = [i.meta.album_mbid for i in items if i.meta.album_mbid]
    rows = _Rows(
        store.albums_matching_txn(txn, mbids, sorted(set(album_artists)), sorted({fold(t) for t in titles})),
        mbid=lambda r: r["mbid"],
        name=lambda r: (r["artist_id"], r["title_key"]),
    )
    dates: dict[int, datetime.date] = {}
    found = []
    for item, title, artist_id in zip(items, titles, album_artists, strict=True):
        mbid, release_date, key = item.meta.album_mbid, item.meta.release_date, fold(title)
        by_mbid = rows.first("mbid", mbid) if mbid else None
        row = by_mbid or rows.first("name", (artist_id, key))
        if row is None:
            fields = {"mbid": mbid, "title": title, "title_key": key, "artist_id": artist_id}
            row = rows.create(
                base_url, "albums", {**fields, "release_date": release_date, "attributed_to_id": item.row["actor_id"]}
            )
        elif by_mbid is None and release_date and row["release_date"] is None:
            row["release_date"] = release_date
            if not row["new"]:
                dates[row["id"]] = release_date
        found.append(row)
    store.set_album_dates_txn(txn, dates)
    rows.insert(txn, "album", ("mbid", "title", "title_key", "artist_id", "release_date", "attributed_to_id"))
    return [r["id"] for r in found], rows.created_ids()


_TRACK_NAMING = ("title_key", "artist_id", "album_id", "position", "disc_number")


def _tracks(
    txn: Any, items: list[Item], artists: list[int], albums: list[int], new_albums: set[int], base_url: str
) -> tuple[list[int], set[int]]:
    """The track id of each item (what a file brings beyond its names is kept on its upload), and the ids of the
    tracks made (an album the batch made has no track yet)."""
    existing = sorted(set(albums) - new_albums)
    rows = _Rows(
        store.tracks_of_albums_txn(txn, existing) if existing else [],
        mbid=lambda r: (r["mbid"], r["album_id"]) if r["mbid"] else None,
        name=lambda r: tuple(r[k] for k in _TRACK_NAMING),
    )
    found = []
    for item, artist_id, album_id in zip(items, artists, albums, strict=True):
        meta = item.meta
        naming = (fold(meta.title), artist_id, album_id, meta.track_number, meta.disc_number)
        row = (
            (rows.first("mbid", (meta.mbid, album_id)) if meta.mbid else None)
            or rows.first("name", naming)
            or rows.create(
                base_url,
                "tracks",
                {
                    **dict(zip(_TRACK_NAMING, naming, strict=True)),
                    "mbid": meta.mbid,
                    "title": meta.title,
                    "attributed_to_id": item.row["actor_id"],
                },
            )
        )
        found.append(row)
    rows.insert(txn, "track", ("mbid", "title", *_TRACK_NAMING, "attributed_to_id"))
    return [r["id"] for r in found], rows.created_ids()


def _tags(txn: Any, items: list[Item], tracks: list[int], albums: list[int]) -> None:
    """Record the tags read from each file on its track and album (viewers see them while they may play it)."""
    ids = store.tag_ids_txn(txn, [g for i in items for g in i.meta.genres])
    store.tag_items_txn(
        txn,
        [
            (tag_id, kind, object_id, item.row["id"])
            for item, track_id, album_id in zip(items, tracks, albums, strict=True)
            for kind, object_id in (("track", track_id), ("album", album_id))
            for genre in item.meta.genres
            for tag_id in ids.get(genre.lower(), [])
        ],
    )


def _outcome(item: Item, track_id: int, album_id: int, cover_id: int | None, duplicates: list[str]) -> dict:
    meta = item.meta
    from_file = {
        "lyrics": meta.lyrics,
        "replaygain": meta.replaygain or None,
        "license": meta.license,
        "copyright": meta.copyright,
        "description": meta.comment,
    }
    return {
        "id": item.row["id"],
        "status": "skipped" if duplicates else "finished",
        "track_id": track_id,
        "album_id": album_id,
        "cover_id": cover_id,
        "details": {"code": ALREADY_IMPORTED, "duplicates": duplicates} if duplicates else {},
        "duration": round(meta.duration) if meta.duration is not None else None,
        "bitrate": meta.bitrate,
        "sample_rate": meta.sample_rate,
        "mimetype": meta.mimetype,
        "metadata": {k: v for k, v in from_file.items() if v},
    }


def import_batch_txn(txn: Any, items: list[Item], base_url: str) -> dict[int, str]:
    """Everything the uploads make, in one transaction; {upload id: finished or skipped (the owner has the track
    already)}. Uploads no longer pending (another run imported them meanwhile) are left out."""
    store.lock_names_txn(txn, [k for item in items for k in lock_keys(item.meta)])
    pending = store.claim_pending_txn(txn, [item.row["id"] for item in items])
    items = [item for item in items if item.row["id"] in pending]
    if not items:
        return {}
    upload_ids = [item.row["id"] for item in items]
    artist_pairs = _artists(txn, items, base_url)
    albums, new_albums = _albums(txn, items, [album_artist for _, album_artist in artist_pairs], base_url)
    track_artists = [track_artist for track_artist, _ in artist_pairs]
    tracks, new_tracks = _tracks(txn, items, track_artists, albums, new_albums, base_url)
    store.forget_contributions_txn(txn, upload_ids)
    _tags(txn, items, tracks, albums)
    kept = store.kept_attachments_txn(txn, [i.cover_id for i in items if i.cover_id is not None])
    owned: dict[tuple[int, int], list[tuple[int, str]]] = {}
    existing = sorted(set(tracks) - new_tracks)  # a track made here has no other upload
    actors = sorted({i.row["actor_id"] for i in items})
    for row in store.owned_finished_txn(txn, existing, actors, upload_ids) if existing else []:
        owned.setdefault((row["track_id"], row["actor_id"]), []).append((row["id"], row["uuid"]))
    outcomes = []
    for item, track_id, album_id in zip(items, tracks, albums, strict=True):
        others = owned.setdefault((track_id, item.row["actor_id"]), [])
        outcome = _outcome(
            item,
            track_id,
            album_id,
            item.cover_id if item.cover_id in kept else None,
            [uuid for _, uuid in sorted(others)],
        )
        if outcome["status"] == "finished":
            others.append((item.row["id"], str(item.row["uuid"])))  # a later twin in the batch is skipped
        outcomes.append(outcome)
    store.finish_uploads_txn(txn, outcomes)
    return {o["id"]: o["status"] for o in outcomes}
