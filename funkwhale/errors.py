"""Invalid: the one exception domain code raises to refuse input (nothing was written).

Each surface maps it once: the REST API to Funkwhale's (DRF's) JSON bodies (web/errors.py), Subsonic to its
error codes (subsonic/errors.py). Domain code never names an HTTP status; `kind` says what sort of refusal it is.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["invalid", "unauthenticated", "forbidden", "not_found", "throttled"]
NON_FIELD = "non_field_errors"
DEFAULT_CODES: dict[Kind, str] = {
    "invalid": "invalid",
    "unauthenticated": "authentication_failed",
    "forbidden": "permission_denied",
    "not_found": "not_found",
    "throttled": "throttled",
}
_KIND_OF_STATUS: dict[int, Kind] = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    429: "throttled",
}


def kind_of_status(status: int) -> Kind:
    """The kind of refusal an HTTP status stands for, for the store modules that still name one."""
    return _KIND_OF_STATUS[status]


class Invalid(Exception):
    """Refused input. `fields` maps field names (or `non_field_errors`) to messages, as DRF reports them;
    `detail` is the message for the whole refusal (by default the first field's, prefixed by its name); `code`
    a machine-readable reason; `kind` what sort of refusal (bad input, bad credentials, not allowed, no such
    object, too many attempts, the latter with `retry_after` seconds)."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        code: str | None = None,
        kind: Kind = "invalid",
        retry_after: int | None = None,
    ) -> None:
        self.fields = fields or {}
        if detail is None:
            name, messages = next(iter(self.fields.items()))
            detail = messages[0] if name == NON_FIELD else f"{name}: {messages[0]}"
        super().__init__(detail)
        self.detail = detail
        self.code = code or DEFAULT_CODES[kind]
        self.kind = kind
        self.retry_after = retry_after

    @classmethod
    def field(cls, name: str, message: str, code: str | None = None) -> Invalid:
        """A refusal naming one field: `{name: [message]}`, detail "name: message"."""
        return cls(fields={name: [message]}, code=code)

    @classmethod
    def forbidden(cls, detail: str) -> Invalid:
        return cls(detail, kind="forbidden")

    @classmethod
    def throttled(cls, what: str, retry_after: int) -> Invalid:
        """Too many `what`: "Too many <what>. Try again in N seconds." """
        return cls(f"Too many {what}. Try again in {retry_after} seconds.", kind="throttled", retry_after=retry_after)
