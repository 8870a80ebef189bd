"""Search and song rows at index speed.

- The trigram indexes search reads (artist, album and track names, tags) keep a pending list of at most 64 kB
  (`gin_pending_list_limit`, the minimum) instead of the server's 4 MB. A GIN index with `fastupdate` appends new
  entries to an unsorted pending list, which every scan reads whole until a vacuum (or an insert past the limit)
  merges it: after an import of a few thousand tracks each search read hundreds of pending pages (on 20,000
  tracks a title scan took 1 ms instead of 0.03). Inserts still go through the list, merged in batches of 64 kB.
- The visibility facts (`track_library`, migration 0009) also carry the longest `duration` among the finished
  uploads of their (track, library) pair, which the refresh at commit computes (an upload's change of duration
  refreshes its pair too). An album's playable tracks and their durations are then read from its few facts (the
  album index includes the duration), not from each track's uploads and their libraries.

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


_REFRESH = """
    CREATE OR REPLACE FUNCTION track_library_refresh(t bigint, l bigint) RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
        held boolean;
        longest integer;
    BEGIN
        IF t IS NULL OR l IS NULL THEN
            RETURN;
        END IF;
        PERFORM pg_advisory_xact_lock(hashtext('track_library'), 0);  -- one lock, taken at commit: no deadlock
        SELECT count(*) > 0, max(duration) INTO held, longest FROM upload
        WHERE track_id = t AND library_id = l AND import_status = 'finished';
        IF held THEN
            INSERT INTO track_library (track_id, library_id, album_id, artist_id, duration)
            SELECT id, l, album_id, artist_id, longest FROM track
            WHERE id = t AND EXISTS (SELECT 1 FROM library WHERE id = l)
            ON CONFLICT (track_id, library_id) DO UPDATE SET duration = EXCLUDED.duration;
        ELSE
            DELETE FROM track_library WHERE track_id = t AND library_id = l;
        END IF;
    END $$;
"""
_REFRESH_0009 = """
    CREATE OR REPLACE FUNCTION track_library_refresh(t bigint, l bigint) RETURNS void LANGUAGE plpgsql AS $$
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
"""
_CHANGED_0009 = (
    "OLD.import_status IS DISTINCT FROM NEW.import_status OR OLD.track_id IS DISTINCT FROM NEW.track_id"
    " OR OLD.library_id IS DISTINCT FROM NEW.library_id"
)
_CHANGED = f"{_CHANGED_0009} OR OLD.duration IS DISTINCT FROM NEW.duration"


def _update_trigger(changed: str) -> str:
    return f"""
    DROP TRIGGER upload_track_library_update ON upload;
    CREATE CONSTRAINT TRIGGER upload_track_library_update AFTER UPDATE ON upload DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION upload_track_library();
    """


def upgrade() -> None:
    for index in SEARCH_INDEXES:
        op.execute(f"ALTER INDEX {index} SET (gin_pending_list_limit = 64)")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")
    op.execute("""
    DROP INDEX track_library_album;
    TRUNCATE track_library;  -- filled again below, rather than every row updated (and left dead)
    ALTER TABLE track_library ADD COLUMN duration integer;
    INSERT INTO track_library (track_id, library_id, album_id, artist_id, duration)
    SELECT u.track_id, u.library_id, t.album_id, t.artist_id, max(u.duration)
    FROM upload u JOIN track t ON t.id = u.track_id WHERE u.import_status = 'finished'
    GROUP BY u.track_id, u.library_id, t.album_id, t.artist_id;
    CREATE INDEX track_library_album ON track_library (album_id, library_id, track_id) INCLUDE (duration)
        WHERE album_id IS NOT NULL;
    ANALYZE track_library;
    """)
    op.execute(_REFRESH)
    op.execute(_update_trigger(_CHANGED))


def downgrade() -> None:
    op.execute(_update_trigger(_CHANGED_0009))
    op.execute(_REFRESH_0009)
    op.execute("""
    DROP INDEX track_library_album;
    CREATE INDEX track_library_album ON track_library (album_id, library_id, track_id) WHERE album_id IS NOT NULL;
    ALTER TABLE track_library DROP COLUMN duration;
    """)
    for index in SEARCH_INDEXES:
        op.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")
