"""A version of the users' track activity, kept by the database: `activity_version`, one row.

The count of a listening history or favorites page covering other users (`scope=all`) counted every entry the
viewer may see (170-350 ms with a year of plays). It is cached now (funkwhale.social.counts), keyed on this
version besides the catalog and the viewer's cache generations. Any statement that inserts, deletes or updates
listenings or favorites (a scrobble; a track or user deleted, whose entries cascade) and any change of a user's
`privacy_level` adds one to it, in the writer's own transaction, so a reader sees a version and the entries it
stands for together.

Revision ID: 0016_subsonic_reads
Revises: 0015_album_plays
Create Date: 2026-12-05
"""

from alembic import op

revision = "0016_subsonic_reads"
down_revision = "0015_album_plays"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE activity_version (
        id int PRIMARY KEY CHECK (id = 1),
        version bigint NOT NULL
    );
    INSERT INTO activity_version VALUES (1, 0);
    CREATE FUNCTION activity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO activity_version VALUES (1, 1)
            ON CONFLICT (id) DO UPDATE SET version = activity_version.version + 1;
        RETURN NULL;
    END $$;
    CREATE TRIGGER activity_changed AFTER INSERT OR UPDATE OR DELETE ON listening
        FOR EACH STATEMENT EXECUTE FUNCTION activity_changed();
    CREATE TRIGGER activity_changed AFTER INSERT OR UPDATE OR DELETE ON track_favorite
        FOR EACH STATEMENT EXECUTE FUNCTION activity_changed();
    CREATE TRIGGER activity_privacy_changed AFTER UPDATE OF privacy_level ON users
        FOR EACH STATEMENT EXECUTE FUNCTION activity_changed();
    """)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER activity_privacy_changed ON users;
    DROP TRIGGER activity_changed ON track_favorite;
    DROP TRIGGER activity_changed ON listening;
    DROP FUNCTION activity_changed();
    DROP TABLE activity_version;
    """)
