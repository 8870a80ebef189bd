"""A listener's own activity: favorite tracks, listening history, and per-user content filters.

Favorites and listenings of a user are seen by others according to `users.privacy_level`: `everyone` by anyone,
`instance` by authenticated local users, `me` (and `followers`, which has no followers here yet) by nobody else.
"""


class Refused(Exception):
    """A refused change (nothing written): the HTTP status and the message for the offending `field`."""

    def __init__(self, status: int, field: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.field = field
        self.detail = detail
