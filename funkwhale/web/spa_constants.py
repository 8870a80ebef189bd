"""The server's constants the web app relies on (the page size cap, error codes, OAuth scopes), written out as
the TypeScript module `static/src/generated/server.ts`, so app and server have one source of truth;
tests/test_spa_constants.py fails when the committed module drifts from them.

Regenerate with `.venv/bin/python -m funkwhale.web.spa_constants > static/src/generated/server.ts`."""

from __future__ import annotations

import json

from funkwhale.music.models import IMPORT_ERROR_CODES
from funkwhale.music.uploads.quota import QUOTA_REACHED
from funkwhale.users.oauth.scopes import MODES, USER_AREAS
from funkwhale.web.pagination import MAX_PAGE_SIZE

OUTPUT = "static/src/generated/server.ts"


def _const(name: str, value: object, doc: str) -> str:
    return f"/** {doc} */\nexport const {name} = {json.dumps(value)} as const;\n"


def render() -> str:
    """The TypeScript module's text."""
    return "\n".join(
        [
            "// Generated from the server's constants by funkwhale/web/spa_constants.py: do not edit.\n",
            _const("MAX_PAGE_SIZE", MAX_PAGE_SIZE, "The largest page_size the API answers with (larger asks are cut)."),
            _const("IMPORT_ERROR_CODES", list(IMPORT_ERROR_CODES), "Values of an upload's import_details.error_code."),
            "export type ImportErrorCode = (typeof IMPORT_ERROR_CODES)[number];\n",
            _const("QUOTA_REACHED", QUOTA_REACHED, "The `code` of an upload refused because the quota is full."),
            _const("SCOPE_MODES", list(MODES), "OAuth scope modes; each is also the scope of all its areas."),
            _const("SCOPE_AREAS", list(USER_AREAS), "The OAuth scope areas a listener can grant (`<mode>:<area>`)."),
        ]
    )


if __name__ == "__main__":
    print(render(), end="")
