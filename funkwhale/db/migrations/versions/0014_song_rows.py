"""Indexes in the order Subsonic's song and album rows read them.

- A track's uploads by (track, creation date, id): a song is served from the first finished upload of its track
  the listener may play, oldest first (`Fragments.playable_uploads ... ORDER BY pu.creation_date, pu.id LIMIT 1`,
  per song of a page). On `upload_track (track_id)` each song sorted its track's uploads first; walking them in
  that order stops at the first playable one with no sort (a 500-song page: ~0.3 ms of PostgreSQL less). The
  index replaces `upload_track`, which served lookups by track alone and still does.
- An album's tracks (`track_album_order`) carry their id: an album's plays by the listener (its tracks, each
  probed in their history) read the index alone (a page of 50 albums with a year's history: ~0.35 of ~3 ms).

Revision ID: 0014_song_rows
Revises: 0013_user_data
Create Date: 2026-12-05
"""

from alembic import op

revision = "0014_song_rows"
down_revision = "0013_user_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX upload_track_first ON upload (track_id, creation_date, id)")
    op.execute("DROP INDEX upload_track")
    op.execute("DROP INDEX track_album_order")
    op.execute("CREATE INDEX track_album_order ON track (album_id, disc_number, position) INCLUDE (id)")


def downgrade() -> None:
    op.execute("DROP INDEX track_album_order")
    op.execute("CREATE INDEX track_album_order ON track (album_id, disc_number, position)")
    op.execute("CREATE INDEX upload_track ON upload (track_id)")
    op.execute("DROP INDEX upload_track_first")
