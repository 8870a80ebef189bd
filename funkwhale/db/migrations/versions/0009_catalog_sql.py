"""Visibility facts: which library holds a playable (finished) upload of which track, kept by the database.

- `track_library`: one row per (track, library) with at least one finished upload of the track in the library,
  with the track's album and artist copied, indexed by track, library, album and artist. Whether a viewer may
  play a track, an album or an artist is then one index probe among the libraries they may see
  (funkwhale.music.sql), and an album's playable tracks are counted from a handful of index entries.
- Triggers keep it right whatever writes: constraint triggers deferred to the commit on `upload` (insert, delete,
  and updates of its status, track or library) refresh each touched (track, library) pair, and on `track` follow
  a change of its album or artist (remote ingestion). They run under one transaction advisory lock, taken at
  commit (so it never waits on a lock the transaction's other work needs: no deadlock, and one lock whatever the
  batch's size), and read with a snapshot taken after it, so concurrent writers of a pair leave it as the last
  to commit saw it.
  Deleting a library, a track or an upload cascades. Library privacy and follows are not facts here: the
  libraries a viewer may see are evaluated once per statement.

Revision ID: 0009_catalog_sql
Revises: 0008
Create Date: 2026-12-05
"""

from alembic import op

revision = "0009_catalog_sql"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE track_library (
        track_id bigint NOT NULL REFERENCES track (id) ON DELETE CASCADE,
        library_id bigint NOT NULL REFERENCES library (id) ON DELETE CASCADE,
        album_id bigint,
        artist_id bigint NOT NULL,
        PRIMARY KEY (track_id, library_id)
    );
    CREATE INDEX track_library_library ON track_library (library_id, track_id);
    CREATE INDEX track_library_album ON track_library (album_id, library_id, track_id) WHERE album_id IS NOT NULL;
    CREATE INDEX track_library_artist ON track_library (artist_id, library_id, track_id);
    CREATE INDEX upload_track_library ON upload (track_id, library_id) WHERE import_status = 'finished';

    INSERT INTO track_library (track_id, library_id, album_id, artist_id)
    SELECT DISTINCT u.track_id, u.library_id, t.album_id, t.artist_id
    FROM upload u JOIN track t ON t.id = u.track_id WHERE u.import_status = 'finished';
    ANALYZE track_library;

    CREATE FUNCTION track_library_refresh(t bigint, l bigint) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        IF t IS NULL OR l IS NULL THEN
            RETURN;
        END IF;
        PERFORM pg_advisory_xact_lock(hashtext('track_library'), 0);  -- one lock, taken at commit: no deadlock
        IF EXISTS (SELECT 1 FROM upload WHERE track_id = t AND library_id = l AND import_status = 'finished') THEN
            INSERT INTO track_library (track_id, library_id, album_id, artist_id)
            SELECT id, l, album_id, artist_id FROM track WHERE id = t AND EXISTS (SELECT 1 FROM library WHERE id = l)
            ON CONFLICT (track_id, library_id) DO NOTHING;
        ELSE
            DELETE FROM track_library WHERE track_id = t AND library_id = l;
        END IF;
    END $$;

    CREATE FUNCTION upload_track_library() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            PERFORM track_library_refresh(OLD.track_id, OLD.library_id);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            PERFORM track_library_refresh(NEW.track_id, NEW.library_id);
        END IF;
        RETURN NULL;
    END $$;

    CREATE CONSTRAINT TRIGGER upload_track_library_insert AFTER INSERT ON upload DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (NEW.import_status = 'finished' AND NEW.track_id IS NOT NULL)
        EXECUTE FUNCTION upload_track_library();
    CREATE CONSTRAINT TRIGGER upload_track_library_delete AFTER DELETE ON upload DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (OLD.import_status = 'finished' AND OLD.track_id IS NOT NULL)
        EXECUTE FUNCTION upload_track_library();
    CREATE CONSTRAINT TRIGGER upload_track_library_update AFTER UPDATE ON upload DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (OLD.import_status IS DISTINCT FROM NEW.import_status
            OR OLD.track_id IS DISTINCT FROM NEW.track_id OR OLD.library_id IS DISTINCT FROM NEW.library_id)
        EXECUTE FUNCTION upload_track_library();

    CREATE FUNCTION track_track_library() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtext('track_library'), 0);
        UPDATE track_library tl SET album_id = t.album_id, artist_id = t.artist_id
        FROM track t WHERE t.id = NEW.id AND tl.track_id = t.id;
        RETURN NULL;
    END $$;

    CREATE CONSTRAINT TRIGGER track_track_library AFTER UPDATE OF album_id, artist_id ON track
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN (OLD.album_id IS DISTINCT FROM NEW.album_id OR OLD.artist_id IS DISTINCT FROM NEW.artist_id)
        EXECUTE FUNCTION track_track_library();
    """)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER track_track_library ON track;
    DROP TRIGGER upload_track_library_insert ON upload;
    DROP TRIGGER upload_track_library_delete ON upload;
    DROP TRIGGER upload_track_library_update ON upload;
    DROP FUNCTION track_track_library(), upload_track_library(), track_library_refresh(bigint, bigint);
    DROP INDEX upload_track_library;
    DROP TABLE track_library;
    """)
