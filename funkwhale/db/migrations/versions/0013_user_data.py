"""A user's listenings of one track are read by index alone.

The Subsonic rows of songs and albums carry the viewer's last play and play count (`played`, `playCount`), a
list can be ordered by how often the viewer listened (`listen_count`, getAlbumList2 frequent and recent) and the
less-listened radio draws by it: each reads the viewer's listenings of given tracks. The only index by track
(`listening_track`) holds every user's listenings of it, each read from the table and most dropped (on a year of
history of 11 users, an album's count read ~170 listenings from 130 pages). This index finds the viewer's
listenings of a track directly and holds their dates, so the count and the last play come from the index alone.

Revision ID: 0013_user_data
Revises: 0012_import_speed
Create Date: 2026-12-05
"""

from alembic import op

revision = "0013_user_data"
down_revision = "0012_import_speed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX listening_user_track ON listening (user_id, track_id, creation_date)")


def downgrade() -> None:
    op.execute("DROP INDEX listening_user_track")
