"""Annotations: star / unstar, setRating, scrobble and getNowPlaying.

Starred songs are the listener's favorites (the REST API's), starred albums and artists Subsonic's own tables;
a submitted scrobble is a listening in the history; both written by funkwhale.social.activity. A "now playing"
scrobble (`submission=false`) is kept in Redis for NOW_PLAYING_SECONDS, per user and player (`c`): a sorted set of
`<user id>:<player>` by time and a hash of what each plays.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any

from funkwhale import cache
from funkwhale.context import Context
from funkwhale.music.visibility import Viewer
from funkwhale.social import activity
from funkwhale.subsonic import ids, serializers
from funkwhale.subsonic.browsing import run
from funkwhale.subsonic.errors import bad_value, missing
from funkwhale.subsonic.registry import Call, endpoint
from funkwhale.subsonic.userdata import store

SOURCE = "subsonic"  # the `source` of the favorites and listenings Subsonic writes
NOW_PLAYING_SECONDS = 15 * 60
NOW_PLAYING = "fw:subsonic:nowplaying"  # sorted set: "<user id>:<player>" -> unix time
NOW_PLAYING_TRACKS = "fw:subsonic:nowplaying:tracks"  # hash: "<user id>:<player>" -> {"track", "time", "player"}


def _starred(call: Call) -> dict[str, list[int]]:
    """The ids of star/unstar by kind: `id` (songs, or any typed id), `albumId`, `artistId`; error 10 if none."""
    wanted: dict[str, list[int]] = {ids.TRACK: [], ids.ALBUM: [], ids.ARTIST: []}
    for name, kinds in (("id", (ids.TRACK, ids.ALBUM, ids.ARTIST)), ("albumId", (ids.ALBUM,)),
                        ("artistId", (ids.ARTIST,))):  # fmt: skip
        for value in call.params.all(name):
            kind, number = ids.parse(value, *kinds)
            if number not in wanted[kind]:
                wanted[kind].append(number)
    if not any(wanted.values()):
        raise missing("id")
    return wanted


def _star_txn(txn: Any, viewer: Viewer, wanted: dict[str, list[int]]) -> None:
    """Songs become favorites (source `subsonic`), albums and artists Subsonic stars; all or nothing."""
    if wanted[ids.TRACK]:
        activity.favorite_txn(txn, viewer, wanted[ids.TRACK], SOURCE)
    store.star_txn(txn, viewer, wanted)


def _unstar_txn(txn: Any, viewer: Viewer, wanted: dict[str, list[int]]) -> None:
    if wanted[ids.TRACK]:
        activity.unfavorite_txn(txn, viewer, wanted[ids.TRACK])
    store.unstar_txn(txn, viewer, wanted)


@endpoint("star", scope="write:favorites")
async def star(ctx: Context, call: Call) -> dict[str, Any]:
    await run(ctx, _star_txn, call.viewer, _starred(call), name="star")
    await cache.invalidate(ctx, cache.user_scope(call.user.id))
    return {}


@endpoint("unstar", scope="write:favorites")
async def unstar(ctx: Context, call: Call) -> dict[str, Any]:
    await run(ctx, _unstar_txn, call.viewer, _starred(call), name="unstar")
    await cache.invalidate(ctx, cache.user_scope(call.user.id))
    return {}


@endpoint("setRating", scope="write:favorites")
async def set_rating(ctx: Context, call: Call) -> dict[str, Any]:
    kind, number = ids.parse(call.params.require("id"), ids.TRACK, ids.ALBUM, ids.ARTIST)
    rating = call.params.int("rating")
    if rating is None:
        raise missing("rating")
    if not 0 <= rating <= 5:
        raise bad_value("rating", str(rating))
    await run(ctx, store.rate_txn, call.viewer, kind, number, rating, name="rating")
    await cache.invalidate(ctx, cache.user_scope(call.user.id))
    return {}


@endpoint("scrobble", scope="write:listenings")
async def scrobble(ctx: Context, call: Call) -> dict[str, Any]:
    """Listenings (with `time`, ms, when given; one per `id`), or with `submission=false` what the player plays."""
    tracks = [ids.number(value, ids.TRACK) for value in call.params.all("id")]
    if not tracks:
        raise missing("id")
    if not call.params.bool("submission", True):
        await _now_playing(ctx, call, tracks[-1])
        return {}
    times = call.params.times("time")
    plays = [(track, times[n] if n < len(times) else None) for n, track in enumerate(tracks)]
    await run(ctx, activity.listen_txn, call.viewer, plays, SOURCE, name="scrobble")
    return {}


async def _now_playing(ctx: Context, call: Call, track: int) -> None:
    """Remember what the caller's player plays (only a track they may play)."""
    await run(ctx, store.require_visible_txn, call.viewer, ids.TRACK, [track], name="now_playing")
    member = f"{call.user.id}:{call.client}"
    now = int(time.time())
    redis = ctx.redis.cmd
    await redis.zadd(NOW_PLAYING, now, member)
    await redis.hset(NOW_PLAYING_TRACKS, member, json.dumps({"track": track, "time": now, "player": call.client}))
    for key in (NOW_PLAYING, NOW_PLAYING_TRACKS):
        await redis.expire(key, NOW_PLAYING_SECONDS)


def player_id(name: str) -> int:
    """A stable number for a player name (Subsonic's playerId is an integer)."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


@endpoint("getNowPlaying", scope="read:listenings")
async def get_now_playing(ctx: Context, call: Call) -> dict[str, Any]:
    """What users whose listenings the caller may see play now, latest first (tracks the caller may play)."""
    redis = ctx.redis.cmd
    now = int(time.time())
    await redis.zremrangebyscore(NOW_PLAYING, "-inf", now - NOW_PLAYING_SECONDS)
    members = await redis.zrevrange(NOW_PLAYING, 0, -1)
    if not members:
        return {"nowPlaying": {"entry": []}}
    stored = await redis.hmget(NOW_PLAYING_TRACKS, members)
    playing = [(int(m.partition(":")[0]), json.loads(raw)) for m, raw in zip(members, stored, strict=True) if raw]
    found = await run(
        ctx,
        store.now_playing_txn,
        call.viewer,
        [user for user, _ in playing],
        [entry["track"] for _, entry in playing],
        name="now_playing",
    )
    entries = []
    for user, entry in playing:
        song = found["songs"].get(entry["track"])
        if song is None or user not in found["users"]:
            continue
        entries.append(
            {
                **serializers.song(song),
                "username": found["users"][user],
                "minutesAgo": max(0, now - entry["time"]) // 60,
                "playerId": player_id(entry["player"]),
                "playerName": entry["player"] or None,
            }
        )
    return {"nowPlaying": {"entry": entries}}
