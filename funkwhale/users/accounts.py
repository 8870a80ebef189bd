"""Accounts: sign-up rules, the first account as administrator, login with rate limits, password changes,
profile updates, Subsonic tokens and scoped listen tokens. No SQL here (see store.py), no HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher
from typing import Any

from funkwhale.config import Settings
from funkwhale.context import Context
from funkwhale.db.rows import required
from funkwhale.errors import NON_FIELD, Invalid
from funkwhale.instance.settings import registration_mode
from funkwhale.music.playback import store as playback_store
from funkwhale.music.visibility import Viewer
from funkwhale.threads import run_cpu
from funkwhale.users import auth_cache, ratelimit, store
from funkwhale.users.actors import NewActor, build_local_actor
from funkwhale.users.passwords import hash_password, verify_password
from funkwhale.users.tokens import hash_token, new_token

USERNAME_MAX = 150
USERNAME_RE = re.compile(r"^\w+\Z", re.ASCII)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")
# Funkwhale's ACCOUNT_USERNAME_BLACKLIST, minus admin/root/test (common first-account names): these
# clash with routes and service actors.
RESERVED_USERNAMES = frozenset(
    {
        "funkwhale",
        "library",
        "instance",
        "status",
        "owner",
        "superuser",
        "staff",
        "service",
        "me",
        "ghost",
        "hello",
        "contact",
        "inbox",
        "outbox",
        "shared_inbox",
        "actor",
    }
)
PASSWORD_MIN = 8
PRIVACY_LEVELS = ("me", "followers", "instance", "everyone")
SESSION_AGE = timedelta(days=14)
LISTEN_TOKEN_AGE = timedelta(days=3)
LISTEN_SCOPE = "read:libraries"  # what a listen token (`?token=` on listen URLs) allows
REQUIRED = "This field is required."
BAD_CREDENTIALS = "Unable to log in with provided credentials."
WRONG_PASSWORDS = "wrong passwords"
FAILED_LOGINS = "failed login attempts"
SIGNUPS = "sign-ups from this address"


# --- validation -------------------------------------------------------------------------------------


def text_field(data: dict[str, Any], name: str, errors: dict[str, list[str]], required: bool = True) -> str:
    """The string `data[name]`, or "" with the reason in `errors` (required, blank, not a string)."""
    value = data.get(name)
    if value is None or value == "":
        if required:
            errors[name] = [REQUIRED if value is None else "This field may not be blank."]
        return ""
    if not isinstance(value, str):
        errors[name] = ["Not a valid string."]
        return ""
    return value


def username_problems(username: str) -> list[str]:
    if len(username) > USERNAME_MAX:
        return [f"Ensure this field has no more than {USERNAME_MAX} characters."]
    if not USERNAME_RE.match(username):
        return [
            "Enter a valid username. This value may contain only English letters, numbers, and _ characters."
        ]
    if username.lower() in RESERVED_USERNAMES:
        return ["Username can not be used. Please use other username."]
    return []


def _similar(password: str, value: str) -> bool:
    """Django's UserAttributeSimilarityValidator test (quick ratio >= 0.7 with the value or its parts)."""
    password = password.lower()
    parts = {value.lower(), *(p for p in re.split(r"\W+", value.lower()) if p)}
    return any(SequenceMatcher(a=password, b=part).quick_ratio() >= 0.7 for part in parts)


def password_problems(password: str, username: str) -> list[str]:
    """Django's validators as Funkwhale configures them (length, numeric, similar to the username)."""
    problems = []
    if username and _similar(password, username):
        problems.append("The password is too similar to the username.")
    if len(password) < PASSWORD_MIN:
        problems.append(f"This password is too short. It must contain at least {PASSWORD_MIN} characters.")
    if password.isdigit():
        problems.append("This password is entirely numeric.")
    return problems


@dataclass(frozen=True)
class Signup:
    username: str
    email: str
    password: str
    invitation: str | None


def validate_signup(data: dict[str, Any]) -> Signup:
    """The sign-up form checked field by field (Invalid with every problem found)."""
    errors: dict[str, list[str]] = {}
    username = text_field(data, "username", errors).strip()
    email = text_field(data, "email", errors).strip()
    password1 = text_field(data, "password1", errors)
    password2 = text_field(data, "password2", errors)
    invitation = data.get("invitation")
    if invitation is not None and not isinstance(invitation, str):
        errors["invitation"] = ["Not a valid string."]
    if username and "username" not in errors and (problems := username_problems(username)):
        errors["username"] = problems
    if email and "email" not in errors and not EMAIL_RE.match(email):
        errors["email"] = ["Enter a valid email address."]
    if password1 and "password1" not in errors and (problems := password_problems(password1, username)):
        errors["password1"] = problems
    if password1 and password2 and password1 != password2 and not errors:
        errors["non_field_errors"] = ["The two password fields didn't match."]
    if errors:
        raise Invalid(fields=errors)
    return Signup(username, email, password1, (invitation or "").strip() or None)


# --- creation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAccount:
    username: str
    email: str
    password_hash: str
    actor: NewActor
    superuser: bool = False


def prepare_account(
    settings: Settings, username: str, email: str, password: str, superuser: bool = False
) -> NewAccount:
    """Hash the password and make the actor's keys (blocking: run it in a thread on the reactor)."""
    return NewAccount(
        username, email, hash_password(password), build_local_actor(settings, username), superuser
    )


def _conflicts(taken: dict[str, bool]) -> dict[str, list[str]]:
    errors = {}
    if taken["username"]:
        errors["username"] = ["A user with that username already exists."]
    if taken["email"]:
        errors["email"] = ["A user is already registered with this e-mail address."]
    return errors


def check_available_txn(txn: Any, username: str, email: str, domain: str) -> None:
    """Invalid when the username or the email is in use."""
    errors = _conflicts(store.taken_txn(txn, username, email, domain))
    if errors:
        raise Invalid(fields=errors)


def create_account_txn(
    txn: Any,
    account: NewAccount,
    invitation: str | None = None,
    first_only: bool = False,
    via_api: bool = False,
) -> dict[str, Any]:
    """Insert the account and its actor. `via_api`: the instance's first account becomes its administrator;
    `first_only`: refuse (Invalid, forbidden) unless this is the first account."""
    store.lock_account_creation_txn(txn)
    first = not store.any_user_txn(txn)
    if first_only and not first:
        raise Invalid.forbidden("Registration has been disabled")
    check_available_txn(txn, account.username, account.email, account.actor.domain)
    invitation_id = None
    if invitation is not None:
        invitation_id = store.open_invitation_txn(txn, invitation)
        if invitation_id is None:
            raise Invalid.field("invitation", "Invalid invitation code")
        store.use_invitation_txn(txn, invitation_id)
    store.ensure_domain_txn(txn, account.actor.domain)
    actor_id = required(store.insert_actor_txn(txn, account.actor), "the new actor")
    admin = account.superuser or (via_api and first)
    return store.insert_user_txn(
        txn, account.username, account.email, account.password_hash, actor_id, admin, invitation_id
    )


async def register(ctx: Context, data: dict[str, Any], address: str) -> dict[str, Any]:
    """Sign up through the API: open registration, a valid invitation, or the instance's first account.
    Each address may create FUNKWHALE_SIGNUP_RATE_LIMIT accounts a day (Invalid, throttled, beyond)."""
    first_only = not data.get("invitation") and await registration_mode(ctx) != "open"
    if first_only and await ctx.db.run(store.any_user_txn, desc="users.any"):
        raise Invalid.forbidden("Registration has been disabled")
    signup = validate_signup(data)
    # Cheap checks first: hashing and key generation cost far more than a query.
    await ctx.db.run(
        check_available_txn, signup.username, signup.email, ctx.settings.domain, desc="users.available"
    )
    keys = ratelimit.signup_keys(address)
    await _take_slot(ctx, keys, ctx.settings.signup_rate_limit, SIGNUPS, ratelimit.SIGNUP.window)
    try:
        account = await run_cpu(
            prepare_account, ctx.settings, signup.username, signup.email, signup.password
        )
        return await ctx.db.run(
            create_account_txn, account, signup.invitation, first_only, True, desc="users.create"
        )
    except Invalid:
        await ratelimit.release(ctx.redis, keys)  # nothing was created
        raise


# --- login and sessions -----------------------------------------------------------------------------


async def _take_slot(ctx: Context, keys: list[str], limit: int, what: str, window: int = ratelimit.WINDOW) -> None:
    """Count an attempt before making it (Invalid "Too many <what>" when a counter is full), so that concurrent
    attempts never exceed the limit."""
    wait = await ratelimit.attempt(ctx.redis, keys, limit, window)
    if wait is not None:
        raise Invalid.throttled(what, wait)


async def _verify(
    ctx: Context, stored: str | None, password: str, keys: list[str], what: str = WRONG_PASSWORDS
) -> tuple[bool, str | None]:
    """verify_password held to the wrong-password limit of `keys`: the slot taken before the check is kept
    when the password is wrong and given back when it is right."""
    await _take_slot(ctx, keys, ctx.settings.login_rate_limit, what)
    ok, rehashed = await run_cpu(verify_password, stored, password)
    if ok:
        await ratelimit.release(ctx.redis, keys)
    return ok, rehashed


async def login(ctx: Context, username: str, password: str, address: str) -> int:
    """The id of the account, or Invalid (throttled, or bad credentials). Every check counts against the account
    and the address before it runs (a right password gives its count back); a blocked client is refused before
    its password is even looked at."""
    row = await ctx.db.run(store.login_user_txn, username, desc="users.login")
    keys = ratelimit.login_keys(address, None if row is None else row["id"])
    ok, rehashed = await _verify(ctx, None if row is None else row["password"], password, keys, FAILED_LOGINS)
    if row is None or not ok or not row["is_active"]:
        raise Invalid(fields={NON_FIELD: [BAD_CREDENTIALS]})
    if rehashed is not None:
        await ctx.db.run(store.set_password_hash_txn, row["id"], rehashed, desc="users.rehash")
    return row["id"]


async def start_session(ctx: Context, user_id: int, user_agent: str) -> tuple[str, str]:
    """A new session: (session key for the cookie, its CSRF token). Only the key's hash is stored."""
    key, csrf = new_token(), new_token()
    expires = datetime.now(UTC) + SESSION_AGE
    await ctx.db.run(
        store.create_session_txn,
        hash_token(key),
        user_id,
        csrf,
        expires,
        user_agent[:300],
        desc="users.session",
    )
    return key, csrf


async def end_session(ctx: Context, session_key: str) -> None:
    await ctx.db.run(store.delete_session_txn, hash_token(session_key), desc="users.logout")
    await auth_cache.changed(ctx)


# --- account changes --------------------------------------------------------------------------------


async def clear_expired_sessions(ctx: Context) -> int:
    """Scheduler job: forget sessions past their expiry date."""
    return await ctx.db.run(store.delete_expired_sessions_txn, desc="users.clear_expired_sessions")


async def check_password(ctx: Context, user_id: int, password: Any, address: str) -> bool:
    """Whether `password` is the account's, held to the same limit as login (Invalid, throttled)."""
    if not isinstance(password, str) or not password:
        return False
    stored = await ctx.db.run(store.password_hash_txn, user_id, desc="users.password")
    ok, _ = await _verify(ctx, stored, password, ratelimit.login_keys(address, user_id))
    return ok


async def change_password(
    ctx: Context, user_id: int, username: str, data: dict[str, Any], keep_session: str | None, address: str
) -> None:
    """old_password, new_password1, new_password2 (dj-rest-auth's form). Rotates the secret key and ends
    every other session; `keep_session` is the current session key, if any. The old password is checked
    under the login limit of the account and of `address`."""
    errors: dict[str, list[str]] = {}
    old = text_field(data, "old_password", errors)
    new1 = text_field(data, "new_password1", errors)
    new2 = text_field(data, "new_password2", errors)
    if new1 and new2 and new1 != new2:
        errors["new_password2"] = ["The two password fields didn't match."]
    elif new1 and (problems := password_problems(new1, username)):
        errors["new_password2"] = problems
    if old and not await check_password(ctx, user_id, old, address):
        errors["old_password"] = ["Your old password was entered incorrectly. Please enter it again."]
    if errors:
        raise Invalid(fields=errors)
    new_hash = await run_cpu(hash_password, new1)
    keep = None if keep_session is None else hash_token(keep_session)
    await ctx.db.run(store.change_password_txn, user_id, new_hash, keep, desc="users.change_password")
    await auth_cache.changed(ctx)


MAX_SETTINGS = 64 * 1024  # bytes of JSON a user's settings may hold


async def update_settings(ctx: Context, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """Merge `changes` into the user's settings (1.4's `set_settings`: the web app's per-user choices, kept as
    given) and return them all; Invalid when they would exceed MAX_SETTINGS."""
    merged = await ctx.db.run(
        store.merge_settings_txn, user_id, json.dumps(changes), MAX_SETTINGS, desc="users.settings"
    )
    if merged is None:
        raise Invalid(f"Settings are limited to {MAX_SETTINGS} bytes.", code="too_large")
    return merged


async def update_profile(ctx: Context, user_id: int, data: dict[str, Any]) -> None:
    """Write the profile fields present in `data`; Invalid for a bad one, or an avatar naming no stored picture."""
    fields = validate_profile(data)
    if not await ctx.db.run(store.update_profile_txn, user_id, fields, desc="users.update"):
        raise Invalid.field("avatar", "No picture has this uuid: send it to /api/v1/attachments/ first.")
    await auth_cache.changed(ctx)  # the principal holds the name and privacy level


def validate_profile(data: dict[str, Any]) -> dict[str, Any]:
    """The writable profile fields present in `data` (name, privacy_level, summary, avatar), checked."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    if "name" in data:
        name = data["name"] if data["name"] is not None else ""
        if not isinstance(name, str):
            errors["name"] = ["Not a valid string."]
        elif len(name) > 255:
            errors["name"] = ["Ensure this field has no more than 255 characters."]
        else:
            fields["name"] = name.strip()
    if "privacy_level" in data:
        level = data["privacy_level"]
        if level not in PRIVACY_LEVELS:
            errors["privacy_level"] = [f'"{level}" is not a valid choice.']
        else:
            fields["privacy_level"] = level
    if "avatar" in data:
        avatar = data["avatar"]
        try:
            fields["avatar"] = None if avatar in (None, "") else str(uuid.UUID(str(avatar)))
        except ValueError:
            errors["avatar"] = ["Must be the uuid of a picture sent to /api/v1/attachments/, or null."]
    if "summary" in data:
        summary = data["summary"]
        text = summary.get("text") if isinstance(summary, dict) else summary
        if text is not None and not isinstance(text, str):
            errors["summary"] = ['Expected {"text": ..., "content_type": ...} or null.']
        else:
            fields["summary"] = (text or "")[:5000]
    if errors:
        raise Invalid(fields=errors)
    return fields


def check_user_details(data: dict[str, Any], username: str, partial: bool) -> None:
    """dj-rest-auth's UserDetailsSerializer on this server: the username is required for PUT and cannot change
    (the actor's address holds it), and first_name/last_name are not kept (the display name is users/me's
    `name`), so only empty values are accepted. Invalid otherwise."""
    errors: dict[str, list[str]] = {}
    if "username" not in data:
        if not partial:
            errors["username"] = [REQUIRED]
    elif data["username"] != username:
        errors["username"] = ["Usernames cannot be changed: the account's federated address holds it."]
    for name in ("first_name", "last_name"):
        if data.get(name) not in (None, ""):
            errors[name] = ["Not kept on this server: set the display name with PATCH /api/v1/users/me/."]
    if errors:
        raise Invalid(fields=errors)


async def delete_account(ctx: Context, user_id: int, data: dict[str, Any], address: str) -> None:
    """Funkwhale's UserDeleteSerializer: the password (under the login limit) and confirm=true, then the
    account goes."""
    errors: dict[str, list[str]] = {}
    if not data.get("password"):
        errors["password"] = [REQUIRED]
    elif not await check_password(ctx, user_id, data["password"], address):
        errors["password"] = ["Invalid password"]
    if data.get("confirm") not in (True, "true", "True", "1", "on"):
        errors["confirm"] = ["Please confirm deletion"]
    if errors:
        raise Invalid(fields=errors)
    await ctx.db.run(store.delete_user_txn, user_id, desc="users.delete")
    await auth_cache.changed(ctx)


def new_subsonic_token() -> str:
    """A random Subsonic API token (kept in clear: token auth needs md5(token + salt))."""
    return secrets.token_urlsafe(24)


# --- scoped listen tokens ---------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _sign(settings: Settings, payload: str) -> str:
    assert settings.secret_key is not None
    key = hashlib.sha256(b"funkwhale.scoped_tokens:" + settings.secret_key.encode()).digest()
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def listen_token(settings: Settings, user_id: int, user_secret: str, now: datetime | None = None) -> str:
    """A token for `?token=` on listen URLs (read:libraries), bound to the user's secret key, valid 3 days."""
    issued = int((now or datetime.now(UTC)).timestamp())
    payload = _b64(
        json.dumps(
            {
                "user_id": user_id,
                "user_secret": str(user_secret),
                "scopes": [LISTEN_SCOPE],
                "iat": issued,
            },
            separators=(",", ":"),
        ).encode()
    )
    return f"{payload}.{_sign(settings, payload)}"


async def listen_viewer(ctx: Context, token: str) -> Viewer:
    """Who a listen token lets play: Invalid (unauthenticated) unless we signed it, it is fresh and bound to the
    active user's current secret key; Invalid (forbidden) unless it grants LISTEN_SCOPE."""
    claims = read_listen_token(ctx.settings, token) or {}
    user_id = claims.get("user_id")
    user = None
    if isinstance(user_id, int):
        user = await ctx.db.run(playback_store.token_user_txn, user_id, desc="listen.token_user")
    if user is None or not hmac.compare_digest(user["secret_key"], str(claims.get("user_secret"))):
        raise Invalid("Invalid token.", kind="unauthenticated")
    if LISTEN_SCOPE not in (claims.get("scopes") or []):
        raise Invalid.forbidden(f"Your token lacks the {LISTEN_SCOPE} scope.")
    return Viewer(user_id=user["id"], actor_id=user["actor_id"])


def read_listen_token(settings: Settings, token: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The token's claims (user_id, user_secret, scopes) when signed by us and fresh, else None. The caller
    compares user_secret with the user's current secret_key (a password change revokes old tokens)."""
    payload, _, signature = token.partition(".")
    if not signature or not hmac.compare_digest(signature.encode(), _sign(settings, payload).encode()):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    age = (now or datetime.now(UTC)).timestamp() - claims.get("iat", 0)
    return claims if 0 <= age <= LISTEN_TOKEN_AGE.total_seconds() else None
