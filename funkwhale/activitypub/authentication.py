"""Who signed a request: the HTTP signature checked against the signer's key (fetched and cached with its actor,
fetched again once when the check fails, as after a key rotation)."""

from __future__ import annotations

from typing import Any

from funkwhale.activitypub import remote_actors, signatures, store
from funkwhale.activitypub.fetch import FetchError
from funkwhale.activitypub.http import incoming_request
from funkwhale.context import Context
from funkwhale.errors import Invalid

_SIGNATURE_HEADERS = (b"signature", b"signature-input")


def is_signed(request: Any) -> bool:
    """True when the request carries an HTTP signature (cavage `Signature`/`Authorization`, or RFC 9421)."""
    if any(request.getHeader(name) for name in _SIGNATURE_HEADERS):
        return True
    return (request.getHeader(b"authorization") or b"").lower().startswith(b"signature ")


async def signed_actor(ctx: Context, request: Any, body: bytes = b"") -> dict[str, Any] | None:
    """The actor row of a request's signer; None when the request is not signed.

    Raises signatures.SignatureError when it is signed but the signature does not hold (malformed, stale,
    a digest that does not match `body`, a key that does not verify, or a signer whose actor cannot be fetched).
    """
    if not is_signed(request):
        return None
    found: dict[str, dict[str, Any]] = {}

    async def lookup(key_id: str, refresh: bool) -> str | None:
        try:
            actor = await remote_actors.get_actor(ctx, remote_actors.key_owner(key_id), refresh=refresh)
        except (FetchError, Invalid) as e:
            raise signatures.SignatureError(f"the signer {key_id} cannot be found: {e}") from None
        found[key_id] = actor
        return actor["public_key"]

    parsed = await signatures.verify_request(
        incoming_request(request, body, scheme=ctx.settings.protocol), lookup, ctx.clock.seconds()
    )
    return found[parsed.key_id]


async def may_read_library(ctx: Context, library_id: int, actor: dict[str, Any] | None) -> bool:
    """True when `actor` (None: anonymous) may read the library's contents (pages, audio)."""
    if actor is None:
        return await ctx.db.run(store.library_is_public_txn, library_id, desc="activitypub.library_is_public")
    return await ctx.db.run(store.may_read_library_txn, library_id, actor["id"], desc="activitypub.may_read")
