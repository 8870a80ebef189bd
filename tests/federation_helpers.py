"""Helpers of the federation tests: waiting for the other instance, a remote library known to B, and signed
POSTs to an inbox."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import reactor, task
from twisted.internet.defer import Deferred

from funkwhale.activitypub import remote_actors, signatures


async def sleep(seconds: float) -> None:
    await task.deferLater(reactor, seconds, lambda: None)


async def eventually(check, within: float = 30, what: str = "") -> Any:
    """Poll `check()` (sync or async) until it gives something true, which is returned; fail after `within` s."""
    for _ in range(int(within / 0.1)):
        result = check()
        if isinstance(result, Deferred) or hasattr(result, "__await__"):
            result = await result
        if result:
            return result
        await sleep(0.1)
    raise AssertionError(f"never true: {what or check}")


async def run_sql(server: Any, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """Run one statement on a server's database; its rows (none for a statement without RETURNING)."""

    def txn(cur: Any) -> list[dict[str, Any]]:
        cur.execute(sql, params)
        return [dict(r) for r in cur.fetchall()] if cur.description else []

    return await server.ctx.db.run(txn, desc="test")


async def remote_library(on: Any, library: dict[str, Any]) -> str:
    """Store on instance `on` the library `library` (its API JSON on the other instance), owned by its remote
    actor (fetched); the uuid of the row on `on`."""
    owner = await remote_actors.get_actor(on.ctx, library["actor"]["fid"])
    rows = await run_sql(
        on,
        "INSERT INTO library (fid, actor_id, name, privacy_level, followers_url) VALUES (%s, %s, %s, %s, %s) "
        "RETURNING uuid",
        (library["fid"], owner["id"], library["name"], library["privacy_level"], library["fid"] + "/followers"),
    )
    return str(rows[0]["uuid"])


def signed_post(
    url: str, activity: dict[str, Any], key_id: str, private_key: str, now: float, **changes: Any
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of an inbox POST signed draft-cavage as Funkwhale signs."""
    body = json.dumps(activity).encode()
    headers = {"Content-Type": "application/activity+json"}
    headers.update(
        signatures.sign_request(
            "POST", url, key_id=key_id, private_key_pem=private_key, now=now, body=body,
            content_type=headers["Content-Type"],
        )
    )  # fmt: skip
    headers.update(changes)
    return body, headers
