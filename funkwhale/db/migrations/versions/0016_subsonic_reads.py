"""A version of each user's track activity, kept by the database: `activity_version (user, version)`.

The count of a listening history or favorites page covering other users (`scope=all`) counted every entry the
viewer may see (170-350 ms with a year of plays). It is cached now per user whose entries it counts
(funkwhale.social.counts), each user's part kept while their version stays: a new listen recounts its listener's
entries only. Any statement that inserts, updates or deletes listenings or favorites (a scrobble; a track or user
deleted, whose entries cascade) adds one to the version of each user whose entries it wrote, and so does a change
of a user's `privacy_level`, in the writer's own transaction, so a reader sees a version and the entries it stands
for together. Rows are written in user order (no deadlock between two statements writing several users'
entries); a user's row outlives them (no foreign key: their entries' cascade writes it as they go).

Revision ID: 0016_subsonic_reads
Revises: 0015_album_plays
Create Date: 2026-12-05
"""

from alembic import op

revision = "0016_subsonic_reads"
down_revision = "0015_album_plays"
branch_labels = None
depends_on = None

_TRIGGERS = [
    (table, event, "OLD" if event == "DELETE" else "NEW")
    for table in ("listening", "track_favorite")
    for event in ("INSERT", "UPDATE", "DELETE")
]


def upgrade() -> None:
    op.execute("""
    CREATE TABLE activity_version (
        user_id bigint PRIMARY KEY,
        version bigint NOT NULL
    );
    CREATE FUNCTION activity_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO activity_version (user_id, version) SELECT DISTINCT user_id, 1 FROM changed ORDER BY user_id
            ON CONFLICT (user_id) DO UPDATE SET version = activity_version.version + 1;
        RETURN NULL;
    END $$;
    CREATE FUNCTION activity_privacy_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO activity_version (user_id, version) VALUES (NEW.id, 1)
            ON CONFLICT (user_id) DO UPDATE SET version = activity_version.version + 1;
        RETURN NULL;
    END $$;
    CREATE TRIGGER activity_privacy_changed AFTER UPDATE OF privacy_level ON users FOR EACH ROW
        WHEN (OLD.privacy_level IS DISTINCT FROM NEW.privacy_level) EXECUTE FUNCTION activity_privacy_changed();
    """)
    for table, event, side in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER activity_{event.lower()} AFTER {event} ON {table} REFERENCING {side} TABLE AS changed"
            " FOR EACH STATEMENT EXECUTE FUNCTION activity_changed()"
        )


def downgrade() -> None:
    for table, event, _ in _TRIGGERS:
        op.execute(f"DROP TRIGGER activity_{event.lower()} ON {table}")
    op.execute("""
    DROP TRIGGER activity_privacy_changed ON users;
    DROP FUNCTION activity_privacy_changed(), activity_changed();
    DROP TABLE activity_version;
    """)
