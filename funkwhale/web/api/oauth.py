"""/api/v1/oauth/: applications (register, manage, personal token), the authorization-code flow
(authorize, token, revoke) and the grants a user has given, shaped like Funkwhale's django-oauth-toolkit views.

Scopes: managing one's applications and grants is the "security" area (read:security / write:security);
registering an application needs nobody logged in; authorizing one needs a logged-in session (not a token)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import unquote_plus

from klein import Klein
from twisted.python.failure import Failure

from funkwhale.users import auth_cache
from funkwhale.users.models import Principal
from funkwhale.users.oauth import apps, flows
from funkwhale.users.oauth import store as oauth_store
from funkwhale.users.oauth.flows import OAuthError
from funkwhale.web.area import Area
from funkwhale.web.errors import ApiError, error_of, install_api_errors, not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import query_items, read_body

_TRUE = (True, "true", "True", "1", "on", "yes")


def _no_store(request: Any) -> None:
    request.setHeader(b"Cache-Control", b"no-store")
    request.setHeader(b"Pragma", b"no-cache")


def _form(request: Any) -> dict[str, Any]:
    """The body of a token or revocation request; a malformed one is an RFC 6749 invalid_request."""
    try:
        return read_body(request)
    except ApiError as e:
        raise OAuthError("invalid_request", e.detail) from None


def _client_credentials(request: Any, form: dict[str, Any]) -> tuple[str, str]:
    """(client_id, client_secret) from HTTP Basic (RFC 6749 §2.3.1, form-encoded parts) or the form."""
    scheme, _, value = (request.getHeader(b"authorization") or b"").decode("latin-1").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, colon, secret = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            colon = ""
        if not colon:
            raise OAuthError("invalid_client", "Malformed HTTP Basic credentials.", 401)
        return unquote_plus(client_id), unquote_plus(secret)
    return str(form.get("client_id") or ""), str(form.get("client_secret") or "")


class OAuthApi(Area):
    app = Klein()

    @app.handle_errors(OAuthError)
    def _oauth_error(self, request: Any, failure: Failure) -> bytes:
        error = error_of(failure, OAuthError)
        _no_store(request)
        if error.status == 401:
            request.setHeader(b"WWW-Authenticate", b'Basic realm="oauth"')
        body = {"error": error.error, "error_description": error.description}
        return json_response(request, body, status=error.status)

    install_api_errors(app)  # after its own handler: OAuthError keeps OAuth's shape

    # Applications

    @app.route("/apps/", methods=["POST"], strict_slashes=False)
    async def create_app(self, request: Any) -> bytes:
        """Anyone may register an application; a logged-in user's is theirs and comes with a personal token
        (a token may only give it scopes it holds itself)."""
        principal = await self.auth.optional(request)
        if principal is not None:
            principal = await self.auth.require(request, "write:security")
        body = await apps.register(self.ctx, read_body(request), principal)
        return json_response(request, body, status=201)

    @app.route("/apps/", methods=["GET"], strict_slashes=False)
    async def list_apps(self, request: Any) -> bytes:
        principal = await self.auth.require(request, "read:security")
        page = Page.from_request(request)
        count, rows = await self.ctx.db.run(
            oauth_store.user_applications_txn, principal.user.id, page.size, page.offset, desc="oauth.list_apps"
        )
        results = [apps.describe(row) for row in rows]  # 1.4 lists no redirect URIs
        return json_response(request, page.body(request, count, results))

    @app.route("/apps/<client_id>/", methods=["GET"], strict_slashes=False)
    async def get_app(self, request: Any, client_id: str) -> bytes:
        """Public, as in Funkwhale (the consent screen shows it); the owner also sees the redirect URIs."""
        principal = await self.auth.optional(request)
        row = await self.ctx.db.run(oauth_store.application_txn, client_id, desc="oauth.app")
        if row is None:
            raise not_found()
        owner = principal is not None and principal.user.id == row["user_id"]
        return json_response(request, apps.describe(row, owner=owner))

    @app.route("/apps/<client_id>/", methods=["PATCH", "PUT"], strict_slashes=False)
    async def update_app(self, request: Any, client_id: str) -> bytes:
        principal = await self.auth.require(request, "write:security")
        partial = request.method == b"PATCH"
        body = await apps.update(self.ctx, client_id, principal, read_body(request), partial)
        if body is None:
            raise not_found()
        return json_response(request, body)

    @app.route("/apps/<client_id>/", methods=["DELETE"], strict_slashes=False)
    async def delete_app(self, request: Any, client_id: str) -> bytes:
        principal = await self.auth.require(request, "write:security")
        deleted = await self.ctx.db.run(
            oauth_store.delete_application_txn, client_id, principal.user.id, desc="oauth.delete_app"
        )
        await auth_cache.changed(self.ctx)
        if not deleted:
            raise not_found()
        request.setResponseCode(204)
        return b""

    @app.route("/apps/<client_id>/refresh-token", methods=["POST"], strict_slashes=False)
    @app.route("/apps/<client_id>/refresh-token/", methods=["POST"], strict_slashes=False)
    async def refresh_app_token(self, request: Any, client_id: str) -> bytes:
        """A new personal token (shown once); the previous one stops working."""
        principal = await self.auth.require(request, "write:security")
        body = await apps.rotate_token(self.ctx, client_id, principal)
        if body is None:
            raise not_found()
        return json_response(request, body)

    # Authorization-code flow

    async def _session_user(self, request: Any) -> Principal:
        principal = await self.auth.require(request)
        if not principal.via_session:
            raise ApiError(403, "Authorizing an application takes a logged-in session.", "permission_denied")
        return principal

    @app.route("/authorize/", methods=["GET"], strict_slashes=False)
    async def authorization_request(self, request: Any) -> bytes:
        """What the consent screen shows: the application and the scopes it asks for."""
        await self._session_user(request)
        params = dict(reversed(query_items(request)))  # the first value of each name
        checked = await flows.check_authorization(self.ctx, params)
        return json_response(request, checked.describe())

    @app.route("/authorize/", methods=["POST"], strict_slashes=False)
    async def authorize(self, request: Any) -> bytes:
        """The user's answer (allow or not): {"redirect_uri": ...?code=&state=, "code": ...}."""
        principal = await self._session_user(request)
        body = read_body(request)
        checked = await flows.check_authorization(self.ctx, body)
        answer = await flows.authorize(self.ctx, checked, principal.user.id, body.get("allow") in _TRUE)
        return json_response(request, answer)

    @app.route("/token/", methods=["POST"], strict_slashes=False)
    async def token(self, request: Any) -> bytes:
        form = _form(request)
        client = await flows.authenticate_client(self.ctx, *_client_credentials(request, form))
        body = await flows.token(self.ctx, client, form)
        _no_store(request)
        return json_response(request, body)

    @app.route("/revoke/", methods=["POST"], strict_slashes=False)
    async def revoke(self, request: Any) -> bytes:
        """RFC 7009: 200 whatever the token (token_type_hint is accepted; both kinds are looked up)."""
        form = _form(request)
        client = await flows.authenticate_client(self.ctx, *_client_credentials(request, form))
        await flows.revoke(self.ctx, client, str(form.get("token") or ""))
        return json_response(request, {})

    # Grants

    @app.route("/grants/", methods=["GET"], strict_slashes=False)
    async def grants(self, request: Any) -> bytes:
        principal = await self.auth.require(request, "read:security")
        return json_response(request, await flows.granted_applications(self.ctx, principal.user.id))

    @app.route("/grants/<client_id>/", methods=["GET"], strict_slashes=False)
    async def grant(self, request: Any, client_id: str) -> bytes:
        principal = await self.auth.require(request, "read:security")
        granted = await flows.granted_applications(self.ctx, principal.user.id)
        found = next((app for app in granted if app["client_id"] == client_id), None)
        if found is None:
            raise not_found()
        return json_response(request, found)

    @app.route("/grants/<client_id>/", methods=["DELETE"], strict_slashes=False)
    async def revoke_grants(self, request: Any, client_id: str) -> bytes:
        principal = await self.auth.require(request, "write:security")
        if not await flows.revoke_grants(self.ctx, principal.user.id, client_id):
            raise not_found()
        request.setResponseCode(204)
        return b""
