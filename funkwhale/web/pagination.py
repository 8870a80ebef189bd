"""Funkwhale's page-number pagination: `page` and `page_size` in, `{count, next, previous, results}` out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from funkwhale.web.errors import not_found
from funkwhale.web.json import query

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @classmethod
    def from_request(cls, request: Any, default_size: int = DEFAULT_PAGE_SIZE, max_size: int = MAX_PAGE_SIZE) -> Page:
        """404 "Invalid page." for a page that is not a positive number, as DRF does; sizes are clamped."""
        try:
            number = int(query(request, "page", "1") or "1")
            size = min(max_size, max(1, int(query(request, "page_size", str(default_size)) or default_size)))
        except ValueError:
            raise not_found("Invalid page.") from None
        if number < 1:
            raise not_found("Invalid page.")
        return cls(number, size)

    def body(self, request: Any, count: int, results: list[Any]) -> dict[str, Any]:
        """The paginated body, with absolute next/previous links that keep the other query parameters."""

        def link(number: int) -> str:
            params = [(k.decode(), v.decode()) for k, vs in request.args.items() for v in vs if k != b"page"]
            params.append(("page", str(number)))
            return f"{str(request.URLPath()).partition('?')[0]}?{urlencode(params)}"

        return {
            "count": count,
            "next": link(self.number + 1) if self.number * self.size < count else None,
            "previous": link(self.number - 1) if self.number > 1 else None,
            "results": results,
        }
