"""/api/v1/tracks/: the tracks a listener may play, paginated, filtered and ordered like Funkwhale; `/<id>/` for one."""

from __future__ import annotations

from funkwhale.web.api.browse import CatalogArea, catalog_app


class TracksApi(CatalogArea):
    kind = "track"
    app = catalog_app(delete=True)
