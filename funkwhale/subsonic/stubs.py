"""Methods of features this server does not have: podcasts, internet radio and shares answer empty lists (apps
probe them); the other known Subsonic methods answer error 0 "not implemented" rather than 70 (unknown).
Listed last in app.ENDPOINT_MODULES: a method another module implements is left to it."""

from __future__ import annotations

from typing import Any

from funkwhale.context import Context
from funkwhale.subsonic.errors import GENERIC, SubsonicError
from funkwhale.subsonic.registry import ENDPOINTS, Call, Handler, endpoint

EMPTY = {
    "getPodcasts": ("podcasts", "channel"),
    "getNewestPodcasts": ("newestPodcasts", "episode"),
    "getInternetRadioStations": ("internetRadioStations", "internetRadioStation"),
    "getShares": ("shares", "share"),
    "getChatMessages": ("chatMessages", "chatMessage"),
}
NOT_IMPLEMENTED = (
    "search", "getVideos", "getVideoInfo", "getCaptions",
    "hls", "createShare", "updateShare", "deleteShare", "refreshPodcasts", "createPodcastChannel",
    "deletePodcastChannel", "deletePodcastEpisode", "downloadPodcastEpisode", "getPodcastEpisode",
    "jukeboxControl", "createInternetRadioStation", "updateInternetRadioStation", "deleteInternetRadioStation",
    "addChatMessage", "createUser", "updateUser", "deleteUser", "changePassword",
)  # fmt: skip


def _empty(container: str, item: str) -> Handler:
    async def empty(ctx: Context, call: Call) -> dict[str, Any]:
        return {container: {item: []}}

    return empty


async def not_implemented(ctx: Context, call: Call) -> dict[str, Any]:
    raise SubsonicError(GENERIC, "Not implemented on this server.")


for _name, (_container, _item) in EMPTY.items():
    if _name not in ENDPOINTS:
        endpoint(_name)(_empty(_container, _item))
endpoint(*(name for name in NOT_IMPLEMENTED if name not in ENDPOINTS))(not_implemented)
