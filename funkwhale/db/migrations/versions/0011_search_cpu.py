"""Search reads the trigram indexes of the small tables (artist and album names, tags) without a pending list.

A GIN index with `fastupdate` appends new entries to an unsorted pending list that every scan reads whole, until
a vacuum or an insert past `gin_pending_list_limit` (64 kB since 0010) merges it. On these tables neither comes
soon: autovacuum vacuums a table after 1,000 + 20 % inserts, so 500 artists imported stay pending (7 pages), and
each search paid 0.25-0.35 ms of PostgreSQL CPU reading them (bench/browse.py's library). These tables grow by a
row per new artist, album or genre, so their inserts go straight into the index (`fastupdate = off`); the track
title index, which an import fills by the thousand, keeps its short pending list.

Revision ID: 0011_search_cpu
Revises: 0010_list_sql
Create Date: 2026-12-05
"""

from alembic import op

revision = "0011_search_cpu"
down_revision = "0010_list_sql"
branch_labels = None
depends_on = None

INDEXES = ("artist_name_key_trgm", "album_title_key_trgm", "tag_name_trgm")


def upgrade() -> None:
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")  # what was pending before


def downgrade() -> None:
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (fastupdate)")
