"""The checks every reader of client input shares (the web API's `web/params.py`, Subsonic's `subsonic/params.py`):
text PostgreSQL can store, integers that fit its bigint, JSON bodies made only of those.

Pure functions raising `BadValue`; each API turns it into its own error shape. No web or Subsonic imports.
`to_int` reads a body field for the domain and refuses it as the domain does (funkwhale.errors.Invalid).
"""

from __future__ import annotations

import re
from typing import Any

from funkwhale.errors import Invalid

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
# ASCII digits only (str.isdigit accepts "²", which int() refuses; int() reads other scripts' digits); 19 digits
# is as long as a bigint gets, far below Python's 4,300-digit conversion limit.
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_DIGITS = re.compile(r"[+-]?[0-9]+")


class BadValue(ValueError):
    """Input a client cannot mean; the message is for that client."""


class OutOfRange(BadValue):
    """An integer too large (or small) for a bigint."""


class BadField(BadValue):
    """A bad value somewhere in a body's field `field`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_text(value: str) -> str:
    """`value` unchanged, unless it holds a NUL, which PostgreSQL refuses in text."""
    if "\x00" in value:
        raise BadValue("Null characters are not allowed.")
    return value


def check_int(number: int) -> int:
    """`number` unchanged when it fits a bigint (ids, offsets, positions all do)."""
    if not BIGINT_MIN <= number <= BIGINT_MAX:
        raise OutOfRange(f"Ensure this value is between {BIGINT_MIN} and {BIGINT_MAX}.")
    return number


def parse_int(raw: str) -> int:
    """A decimal integer written in ASCII digits that fits a bigint."""
    text = raw.strip()
    if _INTEGER.fullmatch(text):
        return check_int(int(text))
    if _DIGITS.fullmatch(text):
        raise OutOfRange(f"Ensure this value is between {BIGINT_MIN} and {BIGINT_MAX}.")
    raise BadValue("A valid integer is required.")


def to_int(raw: Any, name: str, message: str = "A valid integer is required.") -> int:
    """An integer from a query or body value (an int, or a string of ASCII digits) that fits a bigint; else
    Invalid naming `name` with `message` (or the range when the number is too large)."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise Invalid.field(name, message)
    try:
        return parse_int(raw) if isinstance(raw, str) else check_int(raw)
    except OutOfRange as e:
        raise Invalid.field(name, str(e)) from None
    except BadValue:
        raise Invalid.field(name, message) from None


def check_json(body: dict[str, Any]) -> dict[str, Any]:
    """`body` (a decoded JSON object) unchanged when every string and key in it is text and every integer fits a
    bigint; else `BadField` naming the top-level field that holds the bad value. Walks the tree with a list,
    not recursion, so a deep document cannot exhaust the stack."""
    for field, value in body.items():
        pending = [field, value]
        while pending:
            item = pending.pop()
            try:
                if isinstance(item, str):
                    check_text(item)
                elif isinstance(item, int) and not isinstance(item, bool):
                    check_int(item)
            except BadValue as e:
                raise BadField(field, str(e)) from None
            if isinstance(item, dict):
                pending.extend(item.keys())
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
    return body
