"""What the daemon and the CLI do before they use the database: embedded servers, migrations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from funkwhale import storage
from funkwhale.config import Settings
from funkwhale.db import schema
from funkwhale.embedded import DaemonLock, EmbeddedServers


def prepare(settings: Settings, daemon: bool) -> tuple[Settings, EmbeddedServers | None, DaemonLock | None]:
    """Start what is embedded (the daemon takes the data-dir lock first), then check or apply migrations.

    Embedded databases are migrated automatically; an external one must be at the latest migration
    (unless FUNKWHALE_CHECK_MIGRATIONS=false), else SchemaOutdated names `funkwhale migrate`.
    """
    servers = lock = None
    embedded_postgres, embedded_redis = settings.embedded_postgres, settings.embedded_redis
    if daemon and (embedded_postgres or embedded_redis):
        lock = DaemonLock(Path(settings.data_dir))
        lock.acquire()
    try:
        if embedded_postgres or embedded_redis:
            servers = EmbeddedServers(settings.data_dir, embedded_postgres, embedded_redis)
            servers.start()
            storage.protect_directories(settings)  # pgserver, run as root, opens DATA_DIR to everyone
            settings = dataclasses.replace(
                settings,
                database_url=settings.database_url or servers.database_url,
                redis_url=settings.redis_url or servers.redis_url,
            )
        assert settings.database_url is not None
        if embedded_postgres and daemon:
            schema.upgrade_in_child(settings.database_url)
        elif embedded_postgres:
            schema.upgrade(settings.database_url)
        elif settings.check_migrations:
            schema.check_at_head(settings.database_url)
    except BaseException:
        if servers is not None:
            servers.stop(only_started_here=daemon is False)
        if lock is not None:
            lock.release()
        raise
    return settings, servers, lock
