"""The account flows that go through e-mail (dj-rest-auth's password reset, Funkwhale's e-mail change).

A reset token is Django's kind: `<issued, base 36>-<HMAC>` over the user's id, password hash and secret key, so
that it dies when it is used (the password and the secret key change), when the password changes otherwise, and
after RESET_TOKEN_AGE. The link goes to the web app's `/auth/password/reset/confirm?uid=...&token=...`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from twisted.logger import Logger

from funkwhale import mail
from funkwhale.config import Settings
from funkwhale.context import Context
from funkwhale.errors import Invalid
from funkwhale.threads import run_cpu
from funkwhale.users import accounts, auth_cache, ratelimit, store
from funkwhale.users.passwords import hash_password

log = Logger()

RESET_TOKEN_AGE = timedelta(days=3)  # Django's PASSWORD_RESET_TIMEOUT
INVALID = "Invalid value"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def encode_uid(user_id: int) -> str:
    """Django's urlsafe_base64_encode of the primary key."""
    return base64.urlsafe_b64encode(str(user_id).encode()).rstrip(b"=").decode("ascii")


def _decode_uid(uid: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(uid + "=" * (-len(uid) % 4)).decode("ascii")
    except ValueError:
        return None
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _signature(settings: Settings, user: dict[str, Any], issued: str) -> str:
    assert settings.secret_key is not None
    key = hashlib.sha256(b"funkwhale.password_reset:" + settings.secret_key.encode()).digest()
    value = f"{user['id']}:{user['password']}:{user['secret_key']}:{issued}".encode()
    return hmac.new(key, value, hashlib.sha256).hexdigest()[:40]


def reset_token(settings: Settings, user: dict[str, Any], now: datetime | None = None) -> str:
    """A reset token for `user` (a row with id, password and secret_key), issued `now`."""
    issued = _base36(int((now or datetime.now(UTC)).timestamp()))
    return f"{issued}-{_signature(settings, user, issued)}"


def token_valid(settings: Settings, user: dict[str, Any], token: str, now: datetime | None = None) -> bool:
    issued, _, signature = token.partition("-")
    try:
        age = (now or datetime.now(UTC)).timestamp() - int(issued, 36)
    except ValueError:
        return False
    fresh = 0 <= age <= RESET_TOKEN_AGE.total_seconds()
    return fresh and hmac.compare_digest(signature, _signature(settings, user, issued))


async def _take_reset_slot(ctx: Context, limit: ratelimit.Limit, address: str) -> None:
    """Count a reset request or confirmation from `address` (Invalid, throttled, beyond RESET_RATE an hour)."""
    wait = await ratelimit.attempt(ctx.redis, [ratelimit.address_key(address, limit)], ratelimit.RESET_RATE)
    if wait is not None:
        raise Invalid.throttled(f"{limit.description.lower()}s", wait)


async def request_reset(ctx: Context, data: dict[str, Any], address: str) -> None:
    """Mail a reset link to the active account with this e-mail address, if any (the answer is the same
    either way, so that nobody learns which addresses have an account); Invalid for a malformed address or too
    many requests from `address`. An account gets at most RESET_MAILS_PER_ACCOUNT links an hour."""
    await _take_reset_slot(ctx, ratelimit.PASSWORD_RESET, address)
    errors: dict[str, list[str]] = {}
    email = accounts.text_field(data, "email", errors).strip()
    if email and not accounts.EMAIL_RE.match(email):
        errors["email"] = ["Enter a valid email address."]
    if errors:
        raise Invalid(fields=errors)
    user = await ctx.db.run(store.reset_user_txn, None, email, desc="users.reset")
    if user is None or not user["is_active"]:
        return
    mails = [ratelimit.reset_mail_key(user["id"])]
    if await ratelimit.attempt(ctx.redis, mails, ratelimit.RESET_MAILS_PER_ACCOUNT) is not None:
        log.info("password reset: account {user} already got its links this hour; no mail", user=user["id"])
        return
    link = (
        f"{ctx.settings.base_url}/auth/password/reset/confirm"
        f"?uid={encode_uid(user['id'])}&token={reset_token(ctx.settings, user)}"
    )
    body = (
        f"Hello {user['username']},\n\nsomeone asked to reset the password of your account on "
        f"{ctx.settings.hostname}. To choose a new one, follow this link (valid {RESET_TOKEN_AGE.days} days, "
        f"once):\n\n{link}\n\nIf it was not you, ignore this message: your password stays as it is.\n"
    )
    mail.send_in_background(ctx.settings, ctx.clock, user["email"], "Password reset", body)


async def confirm_reset(ctx: Context, data: dict[str, Any], address: str) -> None:
    """uid, token, new_password1, new_password2: the new password, the secret key rotated and every session
    ended; Invalid for a bad, expired or used token, a refused password, or too many tries from `address`."""
    await _take_reset_slot(ctx, ratelimit.PASSWORD_RESET_CONFIRM, address)
    errors: dict[str, list[str]] = {}
    uid = accounts.text_field(data, "uid", errors)
    token = accounts.text_field(data, "token", errors)
    new1 = accounts.text_field(data, "new_password1", errors)
    new2 = accounts.text_field(data, "new_password2", errors)
    user_id = _decode_uid(uid) if uid else None
    user = None if user_id is None else await ctx.db.run(store.reset_user_txn, user_id, None, desc="users.reset")
    if uid and (user is None or not user["is_active"]):
        errors["uid"] = [INVALID]
    elif user is not None and token and not token_valid(ctx.settings, user, token):
        errors["token"] = [INVALID]
    if new1 and new2 and new1 != new2:
        errors["new_password2"] = ["The two password fields didn't match."]
    elif new1 and user is not None and (problems := accounts.password_problems(new1, user["username"])):
        errors["new_password2"] = problems
    if errors:
        raise Invalid(fields=errors)
    assert user is not None
    new_hash = await run_cpu(hash_password, new1)
    # the token's password hash and secret key must still be the account's: a second use finds them changed
    if not await ctx.db.run(store.reset_password_txn, user, new_hash, desc="users.reset_password"):
        raise Invalid.field("token", INVALID)
    await auth_cache.changed(ctx)


async def change_email(ctx: Context, user_id: int, data: dict[str, Any], address: str) -> None:
    """password (under the login limit) and a new, unused e-mail address: the address changes and the old one
    is told so."""
    errors: dict[str, list[str]] = {}
    password = accounts.text_field(data, "password", errors)
    email = accounts.text_field(data, "email", errors).strip()
    if email and not accounts.EMAIL_RE.match(email):
        errors["email"] = ["Enter a valid email address."]
    if password and not await accounts.check_password(ctx, user_id, password, address):
        errors["password"] = ["Invalid password"]
    if errors:
        raise Invalid(fields=errors)
    old = await ctx.db.run(store.change_email_txn, user_id, email, desc="users.change_email")
    if old is None:
        raise Invalid.field("email", "A user is already registered with this e-mail address.")
    await auth_cache.changed(ctx)
    body = (
        f"Hello,\n\nthe e-mail address of your account on {ctx.settings.hostname} was changed from {old} to "
        f"{email}.\n\nIf it was not you, reset your password and contact your instance's moderators.\n"
    )
    mail.send_in_background(ctx.settings, ctx.clock, old, "Your e-mail address was changed", body)
