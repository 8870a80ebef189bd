"""What the parts of a running process share: settings, database, Redis, the clock."""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime

from funkwhale.config import Settings
from funkwhale.db.pool import Database
from funkwhale.redis_client import Redis


@dataclass
class Context:
    settings: Settings
    db: Database
    redis: Redis
    clock: IReactorTime
