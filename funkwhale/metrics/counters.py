"""Instance-wide counters kept in Redis, so that /metrics on a web process sees the work of every process:
worker processes are children (or other units) with registries of their own, which nobody scrapes.

`fw:metrics:tasks` holds, per task name, runs by outcome (`success`, `retry`, `dead`), the sum of their durations
and a duration histogram (runs per bucket, not cumulative); `fw:metrics:cache` hits and misses per cache name
(counted by the cache's read script; the hits a process's mirror served are added by funkwhale.cache_mirror).
Fields are `<name>|<what>`. Counters start again at 0 when Redis loses its data, which Prometheus reads as a
counter reset."""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # funkwhale.redis_client (imported by the context) counts cache hits here
    from funkwhale.context import Context

TASKS = "fw:metrics:tasks"
CACHE = "fw:metrics:cache"
OUTCOMES = ("success", "retry", "dead")
# Upper bounds (seconds) of the task duration buckets; one more bucket, +Inf, follows.
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)

# KEYS[1]: TASKS; ARGV: task, outcome, bucket index, seconds
_RECORD_TASK = """
redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 1)
redis.call('HINCRBY', KEYS[1], ARGV[1] .. '|b' .. ARGV[3], 1)
redis.call('HINCRBYFLOAT', KEYS[1], ARGV[1] .. '|sum', ARGV[4])
return 1
"""


async def record_task(ctx: Context, task: str, outcome: str, seconds: float) -> None:
    """Count one run of `task` that took `seconds` and ended in `outcome` (one round trip)."""
    bucket = bisect_left(TASK_BUCKETS, seconds)
    await ctx.redis.cmd.eval(_RECORD_TASK, [TASKS], [task, outcome, bucket, repr(max(0.0, seconds))])


def split_fields(raw: dict[str, str]) -> dict[str, dict[str, str]]:
    """{"name|what": value} -> {name: {what: value}}."""
    out: dict[str, dict[str, str]] = {}
    for field, value in raw.items():
        name, _, what = field.rpartition("|")
        out.setdefault(name, {})[what] = value
    return out
