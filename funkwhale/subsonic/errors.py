"""Subsonic's error codes; every failure of a /rest call is a SubsonicError answered with HTTP 200."""

from __future__ import annotations

from funkwhale.errors import Invalid

GENERIC = 0
MISSING_PARAMETER = 10
CLIENT_TOO_OLD = 20
SERVER_TOO_OLD = 30
WRONG_CREDENTIALS = 40
TOKEN_AUTH_UNSUPPORTED = 41
AUTH_MECHANISM_UNSUPPORTED = 42
CONFLICTING_AUTH = 43
INVALID_API_KEY = 44
NOT_AUTHORIZED = 50
NOT_FOUND = 70


class SubsonicError(Exception):
    """A refusal in Subsonic's terms: `code` is one of the constants above."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def missing(name: str) -> SubsonicError:
    return SubsonicError(MISSING_PARAMETER, f"Required parameter is missing: {name}")


def not_found(what: str = "The requested data was not found.") -> SubsonicError:
    return SubsonicError(NOT_FOUND, what)


def bad_value(name: str, value: str) -> SubsonicError:
    return SubsonicError(GENERIC, f"Invalid value for parameter {name}: {value!r}")


def from_invalid(error: Invalid) -> SubsonicError:
    """A domain refusal in Subsonic's terms: 70 for what does not exist (or names objects that do not), 50 for
    what the caller may not do, 40 for bad credentials, 0 for any other refusal (missing parameters, 10, are
    found by the Subsonic layer itself)."""
    if error.kind == "not_found" or error.code == "does_not_exist":
        return SubsonicError(NOT_FOUND, error.detail)
    if error.kind == "forbidden":
        return SubsonicError(NOT_AUTHORIZED, error.detail)
    if error.kind == "unauthenticated":
        return SubsonicError(WRONG_CREDENTIALS, error.detail)
    return SubsonicError(GENERIC, error.detail)
