"""What the parts of a running process share: settings, database, Redis, the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twisted.internet.interfaces import IReactorTime

from funkwhale.config import Settings
from funkwhale.db.pool import Database
from funkwhale.music.playback.slots import TranscodeSlots
from funkwhale.redis_client import Redis


@dataclass
class Context:
    settings: Settings
    db: Database
    redis: Redis
    clock: IReactorTime
    transcodes: TranscodeSlots = field(init=False)  # this process's live ffmpeg transcodes
    # this process's downloads of remote audio by upload id (music.playback.remote.Download)
    remote_downloads: dict[int, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.transcodes = TranscodeSlots.from_settings(self.settings)
