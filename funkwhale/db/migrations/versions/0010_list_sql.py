"""Search and song rows at index speed.

- The trigram indexes search reads (artist, album and track names, tags) keep a pending list of at most 64 kB
  (`gin_pending_list_limit`, the minimum) instead of the server's 4 MB. A GIN index with `fastupdate` appends new
  entries to an unsorted pending list, which every scan reads whole until a vacuum (or an insert past the limit)
  merges it: after an import of a few thousand tracks each search read hundreds of pending pages (on 20,000
  tracks a title scan took 1 ms instead of 0.03). Inserts still go through the list, merged in batches of 64 kB.

Revision ID: 0010_list_sql
Revises: 0009_catalog_sql
Create Date: 2026-12-05
"""

from alembic import op

revision = "0010_list_sql"
down_revision = "0009_catalog_sql"
branch_labels = None
depends_on = None

SEARCH_INDEXES = ("artist_name_key_trgm", "album_title_key_trgm", "track_title_key_trgm", "tag_name_trgm")


def upgrade() -> None:
    for index in SEARCH_INDEXES:
        op.execute(f"ALTER INDEX {index} SET (gin_pending_list_limit = 64)")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")


def downgrade() -> None:
    for index in SEARCH_INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")
