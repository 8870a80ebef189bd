"""The inbound handler registry: which coroutine processes a received activity, by its type and its object's.

    @inbound("Create", "Audio")
    async def on_create_audio(ctx, activity, sender) -> None: ...

`sender` is the signer's actor row (already checked to be the activity's `actor`). A handler raises
`funkwhale.errors.Invalid` to refuse an activity (logged; the activity stays stored). Handlers are registered by
importing the modules of HANDLER_MODULES (every process that receives or processes activities loads them).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from funkwhale.context import Context

Handler = Callable[[Context, dict[str, Any], dict[str, Any]], Awaitable[None]]
H = TypeVar("H", bound=Handler)

# Modules whose import registers handlers.
HANDLER_MODULES: list[str] = [
    "funkwhale.activitypub.follows",
    "funkwhale.activitypub.actor_updates",
    "funkwhale.activitypub.music_inbox",
]

_handlers: dict[tuple[str, str | None], Handler] = {}
_loaded = False


def inbound(activity_type: str, object_type: str | None = None) -> Callable[[H], H]:
    """Register a handler of `activity_type` activities whose object is of `object_type` (None: any object,
    used when no handler names the object's type)."""

    def register(fn: H) -> H:
        key = (activity_type, object_type)
        existing = _handlers.get(key)
        if existing is not None and existing is not fn:
            raise ValueError(f"{activity_type}/{object_type} already has a handler: {existing.__qualname__}")
        _handlers[key] = fn
        return fn

    return register


def load_handlers() -> None:
    """Import the handler modules once."""
    global _loaded
    if not _loaded:
        for module in HANDLER_MODULES:
            importlib.import_module(module)
        _loaded = True


def object_type(activity: dict[str, Any]) -> str | None:
    """The type of the activity's object when it is embedded (None for an object given by its id)."""
    obj = activity.get("object")
    kind = obj.get("type") if isinstance(obj, dict) else None
    return kind if isinstance(kind, str) else None


def object_id(activity: dict[str, Any]) -> str | None:
    """The id of the activity's object (a string, or an embedded object's `id`)."""
    obj = activity.get("object")
    if isinstance(obj, dict):
        obj = obj.get("id")
    return obj if isinstance(obj, str) else None


def handler_for(activity: dict[str, Any]) -> Handler | None:
    """The handler of this activity: the one for its type and object type, else its type's catch-all."""
    load_handlers()
    kind = activity.get("type")
    if not isinstance(kind, str):
        return None
    return _handlers.get((kind, object_type(activity))) or _handlers.get((kind, None))
