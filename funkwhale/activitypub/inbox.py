"""Receiving activities: `POST /federation/shared/inbox` and `POST /federation/actors/<name>/inbox`.

The signature is checked first (unsigned or bad: 401 with the reason), then the document: the signer must be its
`actor` (403), a blocked sender is refused (403). An activity no handler knows is answered 202 and dropped. Else
it is stored once (its `id` is unique: a copy changes nothing but may add inbox items), with an inbox item for each
local recipient (actors in `to`/`cc`, and local approved followers of a followers collection listed there), and a
durable `federation.process_inbox` task in the same transaction; the answer is 202 `{}` at once.
At most MAX_IN_FLIGHT inbox requests are handled at a time in a process; beyond, 503 with Retry-After.
"""

from __future__ import annotations

from typing import Any

from klein import Klein
from twisted.logger import Logger

from funkwhale.activitypub import authentication, inbox_store, remote_actors, routing
from funkwhale.activitypub.fetch import FetchError, parse_json
from funkwhale.activitypub.http import FederationError, install_errors, require_enabled, respond
from funkwhale.activitypub.policy import policy_for
from funkwhale.activitypub.signatures import SignatureError
from funkwhale.context import Context
from funkwhale.tasks import queue

log = Logger()

MAX_BODY = 1024 * 1024
MAX_IN_FLIGHT = 64
RETRY_AFTER = 10
PROCESS_TASK = "federation.process_inbox"
_in_flight = 0


def _ids(value: Any) -> list[str]:
    """The ids of an addressing field (`to`, `cc`): a string, an object with `id`, or a list of them."""
    items = value if isinstance(value, list) else [value]
    ids = [item.get("id") if isinstance(item, dict) else item for item in items]
    return [i for i in ids if isinstance(i, str)]


def _actor_id(activity: dict[str, Any]) -> str | None:
    actor = activity.get("actor")
    if isinstance(actor, dict):
        actor = actor.get("id")
    return actor if isinstance(actor, str) else None


def _read_body(request: Any) -> bytes:
    request.content.seek(0)
    body = request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise FederationError(413, "The request body is too large.", "body_too_large")
    return body


async def receive(ctx: Context, request: Any) -> bytes:
    """Check, store and queue one posted activity (see the module docstring)."""
    global _in_flight
    if _in_flight >= MAX_IN_FLIGHT:
        request.setHeader(b"Retry-After", str(RETRY_AFTER).encode())
        raise FederationError(503, "Too many activities in flight, retry later.", "busy")
    _in_flight += 1
    try:
        await _receive(ctx, request)
    finally:
        _in_flight -= 1
    return respond(request, {}, "application/json", 202)


async def _receive(ctx: Context, request: Any) -> None:
    await require_enabled(ctx)
    body = _read_body(request)
    try:
        sender = await authentication.signed_actor(ctx, request, body)
    except SignatureError as e:
        raise FederationError(401, f"Invalid signature: {e}", "invalid_signature") from None
    if sender is None:
        raise FederationError(401, "The request must carry an HTTP signature.", "not_signed")
    try:
        activity = parse_json(body)
    except FetchError as e:
        raise FederationError(400, str(e), "invalid_json") from None
    if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
        raise FederationError(400, "An activity is a JSON object with a type.", "invalid_activity")
    if _actor_id(activity) != sender["fid"]:
        raise FederationError(403, "The signer is not the activity's actor.", "actor_mismatch")
    fid = activity.get("id")
    if not isinstance(fid, str) or not remote_actors.same_origin(fid, sender["fid"]):
        raise FederationError(400, "The activity's id must be an URL of its actor's server.", "invalid_activity")
    policy = await policy_for(ctx, sender)
    if policy.block_all:
        raise FederationError(403, "This server does not accept activities from you.", "blocked")
    if routing.handler_for(activity) is None:
        return  # nothing here uses it: dropped
    addressed = _ids(activity.get("to")) + _ids(activity.get("cc"))
    local = [i for i in addressed if remote_actors.is_local(ctx, i)]
    collections = [i for i in addressed if remote_actors.same_origin(i, sender["fid"])]
    object_fid = routing.object_id(activity)

    def store_txn(txn: Any) -> queue.Message | None:
        recipients = inbox_store.local_recipients_txn(txn, local, collections) if policy.notifies else []
        activity_id, new = inbox_store.store_received_txn(txn, activity, sender["id"], object_fid, recipients)
        return queue.enqueue_durable_txn(txn, PROCESS_TASK, activity_id) if new else None

    message = await ctx.db.run(store_txn, desc="federation.receive")
    if message is not None:
        await queue.push(ctx, message)


class SharedInboxApp:
    """/federation/shared/inbox."""

    app = Klein()
    install_errors(app)

    def __init__(self, ctx: Context, auth: Any) -> None:
        self.ctx = ctx

    @app.route("/inbox", methods=["POST"], strict_slashes=False)
    async def inbox(self, request: Any) -> bytes:
        return await receive(self.ctx, request)
