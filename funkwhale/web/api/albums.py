"""/api/v1/albums/: the albums a listener may play, paginated, filtered and ordered like Funkwhale; `/<id>/` for one."""

from __future__ import annotations

from funkwhale.web.api.browse import CatalogArea, catalog_app


class AlbumsApi(CatalogArea):
    kind = "album"
    app = catalog_app(create=True, delete=True)
