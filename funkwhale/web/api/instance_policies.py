"""/api/v1/manage/moderation/instance-policies/: moderators block, silence or refuse the media of a remote domain
or actor (Funkwhale's ManageInstancePolicy; scopes `read|write:instance:policies`, the moderation permission)."""

from __future__ import annotations

from typing import Any

from funkwhale.activitypub import policy, policy_store
from funkwhale.errors import Invalid
from funkwhale.params import to_int
from funkwhale.web.area import Area, api_app
from funkwhale.web.errors import not_found
from funkwhale.web.json import json_response
from funkwhale.web.pagination import Page
from funkwhale.web.params import query, query_bool, read_body


class InstancePoliciesApi(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        await self.auth.require(request, "read:instance:policies")
        page = Page.from_request(request)
        filters: dict[str, Any] = {flag: query_bool(request, flag) for flag in policy_store.FLAGS}
        for name in ("q", "target_domain", "target_account_domain", "target_account_username"):
            filters[name] = query(request, name)
        count, rows = await self.ctx.db.run(
            policy_store.policies_page_txn, filters, page.size, page.offset, desc="policies.list"
        )
        return page.respond(request, count, rows, policy.policy_json)

    @app.route("/", methods=["POST"], strict_slashes=False)
    async def create(self, request: Any) -> bytes:
        principal = await self.auth.require(request, "write:instance:policies")
        body = await policy.create_policy(self.ctx, read_body(request), principal.user.actor_id)
        return json_response(request, body, status=201)

    async def _row(self, policy_id: str) -> dict[str, Any]:
        try:
            number = to_int(policy_id, "id")
        except Invalid:
            raise not_found() from None
        row = await self.ctx.db.run(policy_store.policy_txn, number, desc="policies.get")
        if row is None:
            raise not_found()
        return row

    @app.route("/<policy_id>/", methods=["GET", "HEAD"], strict_slashes=False)
    async def retrieve(self, request: Any, policy_id: str) -> bytes:
        await self.auth.require(request, "read:instance:policies")
        return json_response(request, policy.policy_json(await self._row(policy_id)))

    @app.route("/<policy_id>/", methods=["PUT", "PATCH"], strict_slashes=False)
    async def update(self, request: Any, policy_id: str) -> bytes:
        """The flags and summary (a policy keeps its target)."""
        await self.auth.require(request, "write:instance:policies")
        row = await self._row(policy_id)
        values = policy.clean_values(read_body(request))
        await self.ctx.db.run(policy_store.update_policy_txn, row["id"], values, desc="policies.update")
        return json_response(request, policy.policy_json(await self._row(policy_id)))

    @app.route("/<policy_id>/", methods=["DELETE"], strict_slashes=False)
    async def delete(self, request: Any, policy_id: str) -> bytes:
        await self.auth.require(request, "write:instance:policies")
        row = await self._row(policy_id)
        await self.ctx.db.run(policy_store.delete_policy_txn, row["id"], desc="policies.delete")
        request.setResponseCode(204)
        return b""
