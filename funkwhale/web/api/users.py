"""/api/v1/users/: session login and logout, the caller's profile (me) and e-mail address, Subsonic tokens.

Funkwhale also answers under /api/v1/users/users/; the same routes are declared with that prefix.
"""

from __future__ import annotations

from typing import Any

from klein import Klein

from funkwhale.context import Context
from funkwhale.instance import settings as instance_settings
from funkwhale.music.attachments import attachment_json
from funkwhale.music.uploads.quota import quota_status
from funkwhale.users import accounts, auth_cache, email_flows, store
from funkwhale.users.models import Principal
from funkwhale.users.oauth.scopes import USER_SCOPES
from funkwhale.users.tokens import new_token
from funkwhale.web.api.auth import (
    clear_session_cookie,
    set_csrf_cookie,
    set_session_cookie,
)
from funkwhale.web.area import Area, api_app
from funkwhale.web.auth import SESSION_COOKIE, check_csrf
from funkwhale.web.client_address import client_address
from funkwhale.web.errors import ApiError, not_found
from funkwhale.web.json import json_response
from funkwhale.web.params import read_body


def route(app: Klein, path: str, methods: list[str]) -> Any:
    """Declare a handler at `path` and at its /users/users/ alias, with or without the trailing slash."""

    def decorate(fn: Any) -> Any:
        for prefix in ("", "/users"):
            fn = app.route(prefix + path, methods=methods, strict_slashes=False)(fn)
        return fn

    return decorate


def me_body(ctx: Context, row: dict[str, Any]) -> dict[str, Any]:
    """Funkwhale's MeSerializer: UserReadSerializer plus what only the account itself sees."""
    admin = row["is_superuser"]
    summary = row.get("summary")
    return {
        "id": row["id"],
        "username": row["username"],
        "full_username": f"{row['username']}@{row.get('domain') or ctx.settings.domain}",
        "name": row["name"],
        "email": row["email"],
        "is_staff": row["is_staff"],
        "is_superuser": admin,
        "permissions": {
            "library": admin or row["permission_library"],
            "moderation": admin or row["permission_moderation"],
            "settings": admin or row["permission_settings"],
        },
        "date_joined": row["date_joined"],
        "privacy_level": row["privacy_level"],
        "avatar": attachment_json(row["avatar"], ctx.settings.base_url) if row.get("avatar") else None,
        "instance_support_message_display_date": None,
        "funkwhale_support_message_display_date": None,
        "summary": {"text": summary, "content_type": "text/plain"} if summary else None,
        "tokens": {"listen": accounts.listen_token(ctx.settings, row["id"], row["secret_key"])},
        "settings": row["settings"],
    }


class UsersApi(Area):
    app = api_app()

    @property
    def secure(self) -> bool:
        return self.ctx.settings.protocol == "https"

    # --- session ---

    @route(app, "/login/", ["POST"])
    async def login(self, request: Any) -> bytes:
        """Form (or JSON) username + password: a session cookie and a fresh CSRF token. Like Django, the
        login itself needs the CSRF double submit, so that no other site can log a browser into its account;
        wrong passwords are limited per account and per address (429)."""
        check_csrf(request)
        data = read_body(request)
        errors = {
            name: ["This field is required."]
            for name in ("username", "password")
            if not isinstance(data.get(name), str) or not data[name]
        }
        if errors:
            raise ApiError(400, "username and password are required.", "invalid", errors)
        user_id = await accounts.login(
            self.ctx, data["username"].strip(), data["password"], client_address(request, self.ctx.settings)
        )
        previous = request.getCookie(SESSION_COOKIE)
        if previous:
            await accounts.end_session(self.ctx, previous.decode("latin-1"))
        agent = (request.getHeader(b"user-agent") or b"").decode("utf-8", "replace")
        key, csrf = await accounts.start_session(self.ctx, user_id, agent)
        set_session_cookie(request, key, self.secure)
        set_csrf_cookie(request, csrf, self.secure)
        return json_response(request, {})

    @route(app, "/logout/", ["POST"])
    async def logout(self, request: Any) -> bytes:
        """End the session (CSRF checked when there is one) and clear its cookie."""
        await self.auth.optional(request)
        key = request.getCookie(SESSION_COOKIE)
        if key:
            await accounts.end_session(self.ctx, key.decode("latin-1"))
        clear_session_cookie(request, self.secure)
        set_csrf_cookie(request, new_token(), self.secure)
        return json_response(request, {})

    # --- profile ---

    async def _me(self, request: Any, principal: Principal) -> bytes:
        row = await self.ctx.db.run(store.profile_txn, principal.user.id, desc="users.me")
        if row is None:
            raise not_found()
        body = me_body(self.ctx, row)
        if not principal.allows(accounts.LISTEN_SCOPE):  # the listen token must not widen a token's reach
            body["tokens"] = {}
        body["quota_status"] = await quota_status(self.ctx, principal.user.id)
        return json_response(request, body)

    @route(app, "/me/", ["GET"])
    async def me(self, request: Any) -> bytes:
        return await self._me(request, await self.auth.require(request, "read:profile"))

    @route(app, "/me/", ["PATCH", "PUT"])
    async def update_me(self, request: Any) -> bytes:
        return await self._update(request, await self.auth.require(request, "write:profile"))

    @route(app, "/<username>/", ["PATCH", "PUT"])
    async def update_user(self, request: Any, username: str) -> bytes:
        """Only the account itself (Funkwhale answers 403 for anyone else)."""
        return await self._update(request, await self._self_only(request, username, "write:profile"))

    async def _update(self, request: Any, principal: Principal) -> bytes:
        await accounts.update_profile(self.ctx, principal.user.id, read_body(request))
        return await self._me(request, principal)

    @route(app, "/settings/", ["POST"])
    async def settings(self, request: Any) -> bytes:
        """Merge the body into the caller's settings and answer them all, as 1.4 does."""
        principal = await self.auth.require(request, "write:profile")
        return json_response(request, await accounts.update_settings(self.ctx, principal.user.id, read_body(request)))

    @route(app, "/change-email/", ["POST"])
    async def change_email(self, request: Any) -> bytes:
        """{password, email}: the new address (unused by others), the old one told; 204. The password is held to
        the login limit (429)."""
        principal = await self.auth.require(request, "write:profile")
        address = client_address(request, self.ctx.settings)
        await email_flows.change_email(self.ctx, principal.user.id, read_body(request), address)
        request.setResponseCode(204)
        return b""

    @route(app, "/me/", ["DELETE"])
    async def delete_me(self, request: Any) -> bytes:
        """{"password": ..., "confirm": true}: the account is deleted, 204 (the password is held to the login
        limit, 429)."""
        principal = await self.auth.require(request, "write:profile")
        address = client_address(request, self.ctx.settings)
        await accounts.delete_account(self.ctx, principal.user.id, read_body(request), address)
        clear_session_cookie(request, self.secure)
        request.setResponseCode(204)
        return b""

    # --- subsonic ---

    async def _self_only(self, request: Any, username: str, scope: str) -> Principal:
        principal = await self.auth.require(request, scope)
        if principal.user.username != username:
            raise ApiError(403, "You do not have permission to perform this action.", "permission_denied")
        return principal

    async def _subsonic_owner(self, request: Any, username: str, scope: str, reveals: bool = True) -> Principal:
        """The account itself, while the Subsonic API is enabled (405 otherwise, as Funkwhale). The Subsonic
        token acts for the whole account: to see or set it (`reveals`), a caller must hold every user scope."""
        principal = await self._self_only(request, username, scope)
        if reveals and not principal.holds(USER_SCOPES):
            raise ApiError(403, "The Subsonic token acts for the whole account: use a session.", "permission_denied")
        if not await instance_settings.get(self.ctx, "subsonic__enabled"):
            raise ApiError(405, "The Subsonic API is disabled on this instance.", "method_not_allowed")
        return principal

    @route(app, "/<username>/subsonic-token/", ["GET"])
    async def subsonic_token(self, request: Any, username: str) -> bytes:
        principal = await self._subsonic_owner(request, username, "read:security")
        token = await self.ctx.db.run(store.subsonic_token_txn, principal.user.id, desc="users.subsonic_token")
        return json_response(request, {"subsonic_api_token": token})

    @route(app, "/<username>/subsonic-token/", ["POST"])
    async def new_subsonic_token(self, request: Any, username: str) -> bytes:
        """Create or rotate the token."""
        principal = await self._subsonic_owner(request, username, "write:security")
        token = accounts.new_subsonic_token()
        await self.ctx.db.run(
            store.set_subsonic_token_txn, principal.user.id, token, desc="users.subsonic_token"
        )
        await auth_cache.changed(self.ctx)
        return json_response(request, {"subsonic_api_token": token})

    @route(app, "/<username>/subsonic-token/", ["DELETE"])
    async def delete_subsonic_token(self, request: Any, username: str) -> bytes:
        principal = await self._subsonic_owner(request, username, "write:security", reveals=False)
        await self.ctx.db.run(
            store.set_subsonic_token_txn, principal.user.id, None, desc="users.subsonic_token"
        )
        await auth_cache.changed(self.ctx)
        request.setResponseCode(204)
        return b""
