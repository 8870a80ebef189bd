"""Funkwhale's page-number pagination: `page` and `page_size` in, `{count, next, previous, results}` out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from funkwhale.params import BIGINT_MAX
from funkwhale.web.errors import not_found
from funkwhale.web.json import json_response
from funkwhale.web.params import query, query_items

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
        """404 "Invalid page." for a page that is not a positive number, as DRF does, or that starts beyond what
        SQL can skip (DRF's 404 for a page past the end); sizes are clamped."""
        try:
            number = int(query(request, "page", "1") or "1")
            size = min(max_size, max(1, int(query(request, "page_size", str(default_size)) or default_size)))
        except ValueError:  # also a number longer than Python converts (4,300 digits)
            raise not_found("Invalid page.") from None
        page = cls(number, size)
        if number < 1 or page.offset > BIGINT_MAX:
            raise not_found("Invalid page.")
        return page

    def body(self, request: Any, count: int, results: list[Any]) -> dict[str, Any]:
        """The paginated body, with next/previous links under the public URL that keep the path (its trailing
        slash too) and the other query parameters, as Funkwhale builds them."""

        def link(number: int) -> str:
            params = [(k, v) for k, v in query_items(request) if k != "page"]
            params.append(("page", str(number)))
            return f"{request.public_url}?{urlencode(params)}"

        return {
            "count": count,
            "next": link(self.number + 1) if self.number * self.size < count else None,
            "previous": link(self.number - 1) if self.number > 1 else None,
            "results": results,
        }

    def respond(self, request: Any, count: int, rows: list[Any], render: Callable[[Any], Any] | None = None) -> bytes:
        """The page as the JSON answer, each row through `render`: DRF's 404 "Invalid page." past the end."""
        if self.number > 1 and not rows:
            raise not_found("Invalid page.")
        return json_response(request, self.body(request, count, rows if render is None else [render(r) for r in rows]))
