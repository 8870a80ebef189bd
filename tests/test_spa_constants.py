"""The web app's copy of the server's constants (static/src/generated/server.ts) is what the server uses now."""

from __future__ import annotations

from pathlib import Path

from funkwhale.web import spa_constants

ROOT = Path(__file__).resolve().parents[1]


def test_generated_module_matches_the_server():
    committed = (ROOT / spa_constants.OUTPUT).read_text(encoding="utf-8")
    assert committed == spa_constants.render(), (
        f"{spa_constants.OUTPUT} is stale: regenerate it (see funkwhale/web/spa_constants.py)"
    )


def test_generated_module_carries_the_page_size_cap_and_quota_code():
    text = spa_constants.render()
    assert "export const MAX_PAGE_SIZE = 50 as const;" in text
    assert 'export const QUOTA_REACHED = "upload_quota_reached" as const;' in text
