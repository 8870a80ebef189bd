"""/api/v1/artists/: the artists a listener may play, paginated, filtered and ordered like Funkwhale; `/<id>/`."""

from __future__ import annotations

from funkwhale.web.api.browse import CatalogArea, catalog_app


class ArtistsApi(CatalogArea):
    kind = "artist"
    app = catalog_app()
