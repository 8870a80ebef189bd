"""The periodic jobs of the domain modules (the queue's own jobs are in tasks/scheduler.default_jobs)."""

from __future__ import annotations

from funkwhale.context import Context
from funkwhale.tasks.scheduler import Job

HOUR = 3600


def housekeeping_jobs(ctx: Context) -> list[Job]:
    from funkwhale.music.importer import rescans
    from funkwhale.tasks.queue import enqueue_durable
    from funkwhale.users.accounts import clear_expired_sessions
    from funkwhale.users.oauth.flows import clear_expired

    return [
        Job("users.clear_expired_sessions", HOUR, lambda: clear_expired_sessions(ctx)),
        Job("oauth.clear_expired", HOUR, lambda: clear_expired(ctx)),
        Job("music.prune_transcode_cache", HOUR, lambda: enqueue_durable(ctx, "music.prune_transcode_cache")),
        Job("music.prune_picture_cache", HOUR, lambda: enqueue_durable(ctx, "music.prune_picture_cache")),
        Job("music.rescan_folders", HOUR, lambda: rescans.request(ctx)),
        Job("federation.clean_music_cache", 2 * HOUR, lambda: enqueue_durable(ctx, "federation.clean_music_cache")),
    ]
