"""/api/v1/auth/: sign-up, password change and reset, user details (dj-rest-auth's endpoints), and the
session/CSRF cookies."""

from __future__ import annotations

from typing import Any

from funkwhale.errors import Invalid
from funkwhale.users import accounts, email_flows, store
from funkwhale.users.tokens import new_token
from funkwhale.web.area import Area, api_app
from funkwhale.web.auth import CSRF_COOKIE, SESSION_COOKIE
from funkwhale.web.client_address import client_address
from funkwhale.web.errors import not_found
from funkwhale.web.json import json_response
from funkwhale.web.params import read_body

CSRF_AGE = 365 * 24 * 3600
# Paths whose clients never use the session (Subsonic, federation, media): no CSRF cookie for them.
_NO_CSRF_PREFIXES = (b"/rest/", b"/federation/", b"/.well-known/", b"/media/", b"/_protected/")


def _replace_cookie(request: Any, name: bytes) -> None:
    request.cookies = [c for c in request.cookies if not c.startswith(name + b"=")]


def set_csrf_cookie(request: Any, token: str, secure: bool) -> None:
    """Set (or replace, if this response already sets one) the csrftoken cookie, readable by the SPA."""
    _replace_cookie(request, CSRF_COOKIE)
    request.addCookie(CSRF_COOKIE, token, path=b"/", max_age=str(CSRF_AGE), secure=secure, sameSite="lax")


def ensure_csrf_cookie(request: Any, secure: bool) -> None:
    """Give a browser that has no csrftoken cookie one (the SPA sends it back as X-CSRFToken)."""
    if request.getCookie(CSRF_COOKIE) or request.getHeader(b"authorization"):
        return
    if (request.path or b"").startswith(_NO_CSRF_PREFIXES):
        return
    set_csrf_cookie(request, new_token(), secure)


def set_session_cookie(request: Any, key: str, secure: bool) -> None:
    _replace_cookie(request, SESSION_COOKIE)
    request.addCookie(
        SESSION_COOKIE,
        key,
        path=b"/",
        max_age=str(int(accounts.SESSION_AGE.total_seconds())),
        secure=secure,
        httpOnly=True,
        sameSite="lax",
    )


def clear_session_cookie(request: Any, secure: bool) -> None:
    _replace_cookie(request, SESSION_COOKIE)
    request.addCookie(
        SESSION_COOKIE,
        "",
        path=b"/",
        max_age="0",
        expires="Thu, 01 Jan 1970 00:00:00 GMT",
        secure=secure,
        httpOnly=True,
        sameSite="lax",
    )


class AuthApi(Area):
    app = api_app()

    @app.route("/registration/", methods=["POST"], strict_slashes=False)
    async def register(self, request: Any) -> bytes:
        """username, email, password1, password2, optional invitation -> 201 (FUNKWHALE_SIGNUP_RATE_LIMIT a day
        per address, 429 beyond)."""
        data = read_body(request)
        user = await accounts.register(self.ctx, data, client_address(request, self.ctx.settings))
        body = {
            "detail": "Account created.",
            "username": user["username"],
            "is_superuser": user["is_superuser"],
        }
        return json_response(request, body, status=201)

    @app.route("/password/change/", methods=["POST"], strict_slashes=False)
    @app.route("/registration/change-password/", methods=["POST"], strict_slashes=False)  # 1.4's other spelling
    async def change_password(self, request: Any) -> bytes:
        """old_password, new_password1, new_password2: the other sessions end, this one stays. The old password
        is held to the login limit (429)."""
        principal = await self.auth.require(request, "write:security")
        current = request.getCookie(SESSION_COOKIE) if principal.via_session else None
        await accounts.change_password(
            self.ctx,
            principal.user.id,
            principal.user.username,
            read_body(request),
            None if current is None else current.decode("latin-1"),
            client_address(request, self.ctx.settings),
        )
        return json_response(request, {"detail": "New password has been saved."})

    @app.route("/password/reset/", methods=["POST"], strict_slashes=False)
    async def password_reset(self, request: Any) -> bytes:
        """{email}: a reset link is mailed to the account with this address; the same answer when there is none."""
        await email_flows.request_reset(self.ctx, read_body(request), client_address(request, self.ctx.settings))
        return json_response(request, {"detail": "Password reset e-mail has been sent."})

    @app.route("/password/reset/confirm/", methods=["POST"], strict_slashes=False)
    async def password_reset_confirm(self, request: Any) -> bytes:
        """{uid, token, new_password1, new_password2}: the new password; every session of the account ends."""
        await email_flows.confirm_reset(self.ctx, read_body(request), client_address(request, self.ctx.settings))
        return json_response(request, {"detail": "Password has been reset with the new password."})

    @app.route("/registration/verify-email/", methods=["POST"], strict_slashes=False)
    async def verify_email(self, request: Any) -> bytes:
        """{key}: addresses need no verification here, so every one is as 1.4 answers for a verified address."""
        data = read_body(request)
        errors: dict[str, list[str]] = {}
        accounts.text_field(data, "key", errors)
        if errors:
            raise Invalid(fields=errors)
        return json_response(request, {"detail": "ok"})

    @app.route("/user/", methods=["GET"], strict_slashes=False)
    async def user_details(self, request: Any) -> bytes:
        """dj-rest-auth's UserDetails: pk, username, email, first_name, last_name (the last two always empty)."""
        principal = await self.auth.require(request, "read:profile")
        return await self._user_details(request, principal.user.id)

    @app.route("/user/", methods=["PUT", "PATCH"], strict_slashes=False)
    async def update_user_details(self, request: Any) -> bytes:
        """Checked as dj-rest-auth's serializer would (accounts.check_user_details); nothing else is writable."""
        principal = await self.auth.require(request, "write:profile")
        data = read_body(request)
        accounts.check_user_details(data, principal.user.username, partial=request.method == b"PATCH")
        return await self._user_details(request, principal.user.id)

    async def _user_details(self, request: Any, user_id: int) -> bytes:
        row = await self.ctx.db.run(store.profile_txn, user_id, desc="auth.user")
        if row is None:
            raise not_found()
        body = {"pk": row["id"], "username": row["username"], "email": row["email"], "first_name": "", "last_name": ""}
        return json_response(request, body)
