"""/api/v1/auth/: sign-up and password change (dj-rest-auth's endpoints), and the session/CSRF cookies."""

from __future__ import annotations

from typing import Any

from klein import Klein

from funkwhale.context import Context
from funkwhale.users import accounts
from funkwhale.users.tokens import new_token
from funkwhale.web.auth import CSRF_COOKIE, SESSION_COOKIE, Auth
from funkwhale.web.client_address import client_address
from funkwhale.web.errors import ApiError, install_api_errors
from funkwhale.web.json import json_response
from funkwhale.web.params import read_body

CSRF_AGE = 365 * 24 * 3600
WRONG_PASSWORDS = "wrong passwords"
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


def account_error(error: accounts.AccountError) -> ApiError:
    """A 400 with DRF's field errors."""
    first_field, messages = next(iter(error.fields.items()))
    return ApiError(400, f"{first_field}: {messages[0]}", "invalid", error.fields)


def throttled(request: Any, error: accounts.Throttled, what: str) -> ApiError:
    """A 429 with Retry-After: "Too many <what>. Try again in N seconds." """
    request.setHeader(b"Retry-After", str(error.retry_after).encode())
    return ApiError(429, f"Too many {what}. Try again in {error.retry_after} seconds.", "throttled")


def registration_closed() -> ApiError:
    return ApiError(403, "Registration has been disabled", "permission_denied")


class AuthApi:
    app = Klein()
    install_api_errors(app)

    def __init__(self, ctx: Context, auth: Auth) -> None:
        self.ctx = ctx
        self.auth = auth

    @app.route("/registration/", methods=["POST"], strict_slashes=False)
    async def register(self, request: Any) -> bytes:
        """username, email, password1, password2, optional invitation -> 201 (FUNKWHALE_SIGNUP_RATE_LIMIT a day
        per address, 429 beyond)."""
        data = read_body(request)
        try:
            user = await accounts.register(self.ctx, data, client_address(request, self.ctx.settings))
        except accounts.AccountError as e:
            raise account_error(e) from None
        except accounts.RegistrationClosed:
            raise registration_closed() from None
        except accounts.Throttled as e:
            raise throttled(request, e, "sign-ups from this address") from None
        body = {
            "detail": "Account created.",
            "username": user["username"],
            "is_superuser": user["is_superuser"],
        }
        return json_response(request, body, status=201)

    @app.route("/password/change/", methods=["POST"], strict_slashes=False)
    async def change_password(self, request: Any) -> bytes:
        """old_password, new_password1, new_password2: the other sessions end, this one stays. The old password
        is held to the login limit (429)."""
        principal = await self.auth.require(request, "write:security")
        current = request.getCookie(SESSION_COOKIE) if principal.via_session else None
        try:
            await accounts.change_password(
                self.ctx,
                principal.user.id,
                principal.user.username,
                read_body(request),
                None if current is None else current.decode("latin-1"),
                client_address(request, self.ctx.settings),
            )
        except accounts.AccountError as e:
            raise account_error(e) from None
        except accounts.Throttled as e:
            raise throttled(request, e, WRONG_PASSWORDS) from None
        return json_response(request, {"detail": "New password has been saved."})
