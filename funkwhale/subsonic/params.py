"""A call's parameters: the query string and an urlencoded form body merged, repeated keys kept as lists.

Values pass `funkwhale.params`' checks (no NUL; integers in ASCII digits, within a bigint), so nothing a client
sends reaches SQL in a form PostgreSQL refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from funkwhale.params import BIGINT_MAX, BIGINT_MIN, BadValue, OutOfRange, check_text, parse_int
from funkwhale.subsonic.errors import GENERIC, SubsonicError, bad_value, missing


class Params:
    """Typed access to the parameters; a missing required one is error 10, an unparsable one error 0, and a NUL
    in any name or value error 0 before the call runs (`check`)."""

    def __init__(self, values: dict[str, list[str]], problem: str | None = None) -> None:
        self._values = values
        self._problem = problem

    @classmethod
    def parse(cls, query: bytes, form: bytes = b"") -> Params:
        merged: dict[str, list[str]] = {}
        problem = None
        for raw in (query, form):
            for name, values in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items():
                try:
                    merged.setdefault(check_text(name), []).extend([check_text(value) for value in values])
                except BadValue as e:  # left out; `check` refuses the call (the format is still known)
                    problem = problem or f"Invalid parameter {name!r}: {e}"
        return cls(merged, problem)

    def check(self) -> None:
        """Error 0 when a parameter was refused while parsing."""
        if self._problem is not None:
            raise SubsonicError(GENERIC, self._problem)

    @classmethod
    def of(cls, request: Any) -> Params:
        """The query string, then the body when it is an urlencoded form (OpenSubsonic formPost; DSub POSTs
        with everything in the query string)."""
        _, _, query = request.uri.partition(b"?")
        form = b""
        ctype = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
        if ctype == b"application/x-www-form-urlencoded" and request.content is not None:
            request.content.seek(0)
            form = request.content.read()
        return cls.parse(query, form)

    def __contains__(self, name: str) -> bool:
        return bool(self._values.get(name))

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._values.get(name)
        return values[0] if values else default

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise missing(name)
        return value

    def all(self, name: str) -> list[str]:
        """Every value of a repeated key, in order (`id=1&id=2`)."""
        return list(self._values.get(name, []))

    def int(self, name: str, default: Any = None, minimum: int | None = None, maximum: int | None = None) -> Any:
        """An integer clamped to [minimum, maximum] (and to a bigint), `default` when absent; error 0 when not an
        integer."""
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            number = parse_int(value)
        except OutOfRange:
            number = BIGINT_MIN if value.strip().startswith("-") else BIGINT_MAX
        except BadValue:
            raise bad_value(name, value) from None
        if minimum is not None:
            number = max(minimum, number)
        if maximum is not None:
            number = min(maximum, number)
        return number

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.get(name)
        if value is None or value == "":
            return default
        return value.strip().lower() in ("true", "1", "yes", "on")

    def time(self, name: str) -> datetime | None:
        """Milliseconds since the epoch; an unparsable or absurd value is ignored (Substreamer sends some)."""
        return parse_time(self.get(name))

    def times(self, name: str) -> list[datetime | None]:
        """Every value of a repeated time (scrobble's `time`), each read as `time` reads one."""
        return [parse_time(value) for value in self.all(name)]


def parse_time(value: str | None) -> datetime | None:
    """Milliseconds since the epoch as an aware datetime; None when absent, unparsable or absurd."""
    try:
        stamp = datetime.fromtimestamp(int(value) / 1000, UTC) if value else None
    except (ValueError, OverflowError, OSError):
        return None
    if stamp is not None and not (2000 <= stamp.year <= datetime.now(UTC).year + 1):
        return None
    return stamp
