"""/api/v1/activity/: the instance's recent activity as 1.4 shows it on its home page: the latest favorites
("Like") and listenings ("Listen") the caller may see, newest first, 20 at most, as `{"results": [...]}`."""

from __future__ import annotations

from typing import Any

from funkwhale.social import store
from funkwhale.web.api.browse import viewer_of
from funkwhale.web.area import Area, api_app
from funkwhale.web.json import json_response

LATEST = 20  # activities shown, as 1.4's get_activity
KINDS = {"favorites": "Like", "listenings": "Listen"}


class ActivityApi(Area):
    app = api_app()

    @app.route("/", methods=["GET", "HEAD"], strict_slashes=False)
    async def index(self, request: Any) -> bytes:
        viewer = await viewer_of(self.ctx, self.auth, request, "read:listenings")
        found = []
        for kind, activity_type in KINDS.items():
            listing = store.Listing(viewer, mine=False, limit=LATEST, counted=False)
            _, rows = await self.ctx.db.run(store.list_txn, kind, listing, desc=f"activity.{kind}")
            found += [(row["entry_date"], activity_type, row) for row in rows]
        found.sort(key=lambda item: item[0], reverse=True)
        return json_response(request, {"results": [self._activity(t, row) for _, t, row in found[:LATEST]]})

    def _activity(self, activity_type: str, row: dict[str, Any]) -> dict[str, Any]:
        track, owner = self.renderer.track(row), row["owner"]
        actor = row["owner_actor"] or {}
        return {
            "type": activity_type,
            "id": f"{actor.get('fid', '')}#{activity_type.lower()}-{row['entry_id']}",
            "local_id": row["entry_id"],
            "object": {
                "type": "Audio",
                "id": track["fid"],
                "local_id": track["id"],
                "name": track["title"],
                "artist": track["artist"]["name"],
                "album": (track["album"] or {}).get("title"),
            },
            "actor": {
                "type": "Person",
                "id": actor.get("fid"),
                "local_id": owner["username"],
                "name": owner["username"],
            },
            "published": row["entry_date"],
        }
