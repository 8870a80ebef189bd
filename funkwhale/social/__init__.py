"""A listener's own activity: favorite tracks, listening history, and per-user content filters.

Favorites and listenings of a user are seen by others according to `users.privacy_level`: `everyone` by anyone,
`instance` by authenticated local users, `me` (and `followers`, which has no followers here yet) by nobody else.
"""

from __future__ import annotations

from funkwhale.errors import Invalid, kind_of_status


class Refused(Invalid):
    """Invalid as store.py spells it: a refused change (nothing written) of `field`, with the HTTP status it
    stood for."""

    def __init__(self, status: int, field: str, detail: str) -> None:
        super().__init__(fields={field: [detail]}, kind=kind_of_status(status))
