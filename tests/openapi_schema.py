"""Funkwhale 1.4.0's own OpenAPI schema (the reference pod's), read for the coverage and filter walks: its /api/v1
and /api/v2 operations outside the areas other issues own, and the query parameters of its list endpoints."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REFERENCE = Path("/work/shared/reference")
SCHEMAS = ("funkwhale-1.4.0-openapi.yml", "funkwhale-1.4.0-openapi-v2.yml")
# Owned by other issues: channels and podcasts, subscriptions, the admin API, reports, federation.
EXCLUDED = ("channels", "subscriptions", "manage/", "moderation/reports", "federation/")
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    path: str  # as the schema writes it: /api/v1/albums/{id}/
    method: str  # upper case
    parameters: tuple[dict[str, Any], ...]  # its query parameters


@functools.cache
def operations() -> tuple[Operation, ...]:
    """Every operation of the served paths (v1 from the v1 schema, v2 from the v2 schema)."""
    found: list[Operation] = []
    for name, version in zip(SCHEMAS, ("/api/v1/", "/api/v2/"), strict=True):
        schema = yaml.safe_load((REFERENCE / name).read_text())
        for path, item in schema["paths"].items():
            if not path.startswith(version) or path[len(version) :].startswith(EXCLUDED):
                continue
            for method in METHODS:
                if method in item:
                    query = [p for p in item[method].get("parameters", []) if p.get("in") == "query"]
                    found.append(Operation(path, method.upper(), tuple(query)))
    return tuple(found)


def list_endpoints() -> list[Operation]:
    """The GET operations that page (declare `page`) and so filter and order."""
    return [op for op in operations() if op.method == "GET" and any(p["name"] == "page" for p in op.parameters)]
