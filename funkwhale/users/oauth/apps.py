"""OAuth applications: registration (anonymous third-party apps, or owned apps with a personal token),
their checks, and how they are shown."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.users import auth_cache
from funkwhale.users.models import Principal
from funkwhale.users.oauth import scopes as scope_names
from funkwhale.users.oauth import store
from funkwhale.users.tokens import hash_token, new_token

# As Funkwhale allows: web callbacks, and "urn:" ones (the out-of-band URN, mobile apps' own URNs).
REDIRECT_SCHEMES = ("http", "https", "urn")
NAME_MAX_LENGTH = 255
_CLIENT_ID_ALPHABET = string.ascii_letters + string.digits


def check_held(holder: Principal, scope_text: str) -> None:
    """Invalid (forbidden, naming `scopes`) unless `holder` grants every scope of `scope_text`: a token never
    mints a wider one."""
    missing = scope_names.expand(scope_names.parse(scope_text)) - holder.scopes
    if missing:
        detail = "Your token cannot grant scopes it does not hold: " + ", ".join(sorted(missing)) + "."
        raise Invalid(detail, fields={"scopes": [detail]}, kind="forbidden")


def redirect_uris(text: str) -> list[str]:
    """The redirect URIs of an application, written space or newline separated (stored space separated)."""
    return text.split()


def _redirect_uri_errors(text: str) -> list[str]:
    errors = []
    for uri in redirect_uris(text):
        parts = urlsplit(uri)
        if parts.scheme not in REDIRECT_SCHEMES:
            errors.append(f"{uri}: the scheme must be one of {', '.join(REDIRECT_SCHEMES)}.")
        elif not (parts.path if parts.scheme == "urn" else parts.netloc):
            errors.append(f"{uri}: enter an absolute URL.")
        elif parts.fragment or uri.endswith("#"):
            errors.append(f"{uri}: a redirect URI cannot have a fragment.")
    return errors


def scope_errors(text: str) -> list[str]:
    """What is wrong with a scope string: unknown scopes, or none at all."""
    requested = scope_names.parse(text)
    if not requested:
        return ["Give at least one scope."]
    return [f'"{s}" is not a valid scope.' for s in scope_names.unknown(requested)]


def _name_errors(name: str) -> list[str]:
    if not name:
        return ["This field may not be blank."]
    if len(name) > NAME_MAX_LENGTH:
        return [f"Ensure this field has no more than {NAME_MAX_LENGTH} characters."]
    return []


# (body field, column, required, what is wrong with a value, the value as stored)
_FIELDS: tuple[tuple[str, str, bool, Callable[[str], list[str]], Callable[[str], str]], ...] = (
    ("name", "name", True, _name_errors, str),
    ("redirect_uris", "redirect_uris", False, _redirect_uri_errors, lambda v: " ".join(redirect_uris(v))),
    ("scopes", "scope", True, scope_errors, lambda v: scope_names.join(scope_names.parse(v))),
)


def clean(body: dict[str, Any], partial: bool) -> dict[str, str]:
    """The columns (name, redirect_uris, scope) an application body sets, every field checked (400 by field).
    `partial` (PATCH): absent fields are left unchanged rather than required."""
    fields: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for key, column, required, check, stored in _FIELDS:
        value = body.get(key)
        if value is None:
            if required and not partial:
                errors[key] = ["This field is required."]
            elif not partial:
                fields[column] = ""
            continue
        if not isinstance(value, str):
            errors[key] = ["Not a valid string."]
            continue
        problems = check(value.strip())
        if problems:
            errors[key] = problems
        else:
            fields[column] = stored(value.strip())
    if errors:
        raise Invalid(fields=errors)
    return fields


def describe(row: dict[str, Any], owner: bool = False) -> dict[str, Any]:
    """An application as the API shows it; its owner also sees the redirect URIs."""
    body = {
        "client_id": row["client_id"],
        "name": row["name"],
        "scopes": row["scope"],
        "created": row["creation_date"],
        "updated": row["modification_date"],
    }
    if owner:
        body["redirect_uris"] = row["redirect_uris"]
    return body


def _client_id() -> str:
    return "".join(secrets.choice(_CLIENT_ID_ALPHABET) for _ in range(40))


async def register(ctx: Context, body: dict[str, Any], owner: Principal | None) -> dict[str, Any]:
    """Create an application (owned by the `owner`'s user, or nobody's). The answer carries the client secret,
    and for an owned application a personal token with its scopes, which the owner must hold: both shown
    only this once."""
    fields = clean(body, partial=False)
    if owner is not None:
        check_held(owner, fields["scope"])
    user_id = None if owner is None else owner.user.id
    secret = new_token(48)
    token = new_token() if user_id is not None else None
    row = await ctx.db.run(
        store.insert_application_txn,
        _client_id(),
        hash_token(secret),
        fields,
        user_id,
        hash_token(token) if token else None,
        desc="oauth.register",
    )
    shown = {**describe(row, owner=True), "client_secret": secret}
    if token:
        shown["token"] = token
    return shown


async def update(ctx: Context, client_id: str, owner: Principal, body: dict[str, Any], partial: bool) -> dict | None:
    """Change an application the `owner` owns (new scopes must be theirs); None when there is no such
    application."""
    fields = clean(body, partial)
    if "scope" in fields:
        check_held(owner, fields["scope"])
    row = await ctx.db.run(store.update_application_txn, client_id, owner.user.id, fields, desc="oauth.update_app")
    await auth_cache.changed(ctx)  # its tokens' scopes may have narrowed
    return describe(row, owner=True) if row else None


async def rotate_token(ctx: Context, client_id: str, owner: Principal) -> dict[str, Any] | None:
    """A new personal token for an application the `owner` owns, whose scopes they must hold (the old token
    stops working), in the application's creation shape; None when there is no such application."""
    row = await ctx.db.run(store.application_txn, client_id, desc="oauth.app")
    if row is None or row["user_id"] != owner.user.id:
        return None
    check_held(owner, row["scope"])
    token = new_token()
    row = await ctx.db.run(
        store.set_application_token_txn, client_id, owner.user.id, hash_token(token), desc="oauth.rotate_token"
    )
    await auth_cache.changed(ctx)
    if row is None:
        return None
    # 1.4 answers with its CreateApplication shape, whose client_secret is the stored (hashed) secret
    return {**describe(row, owner=True), "client_secret": row["client_secret_hash"], "token": token}
