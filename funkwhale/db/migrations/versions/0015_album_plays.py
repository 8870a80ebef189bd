"""Each listener's plays per album, kept by the database: `album_play (user, album, plays, last played)`.

An album's `playCount` and `played` for its listener (every Subsonic album row) summed their listenings of each of
the album's tracks (~10 index probes an album), and getAlbumList2 `frequent` / `recent` aggregated the listener's
whole history per request (14 ms of SQL with a year of plays). They now read one row per album.

- A listening's insert adds to its (user, album) row (a statement-level trigger: a batch of listenings is one
  upsert per pair, counts added in place, so concurrent scrobbles of one album add up).
- A listening's delete (a track or a user deleted, whose listenings cascade) and a track moved to another album
  count the affected listeners' rows again from their history: rare, and exact whatever the order of cascades (a
  deleted track's album can no longer be read when its listenings go). The move is a row trigger on `album_id`
  with a WHEN, so the other updates of a track (its download count, on every download) never run it.
- An album or a user deleted takes its rows with it.

Revision ID: 0015_album_plays
Revises: 0014_song_rows
Create Date: 2026-12-05
"""

from alembic import op

revision = "0015_album_plays"
down_revision = "0014_song_rows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE album_play (
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        album_id bigint NOT NULL REFERENCES album (id) ON DELETE CASCADE,
        plays bigint NOT NULL,
        last_played timestamptz NOT NULL,
        PRIMARY KEY (user_id, album_id)
    );
    CREATE INDEX album_play_album ON album_play (album_id);

    CREATE FUNCTION album_play_recount(users bigint[]) RETURNS void LANGUAGE sql AS $$
        DELETE FROM album_play WHERE user_id = ANY(users);
        INSERT INTO album_play (user_id, album_id, plays, last_played)
        SELECT l.user_id, t.album_id, count(*), max(l.creation_date)
        FROM listening l JOIN track t ON t.id = l.track_id
        WHERE l.user_id = ANY(users) AND t.album_id IS NOT NULL
        GROUP BY l.user_id, t.album_id;
    $$;

    CREATE FUNCTION album_play_added() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO album_play AS p (user_id, album_id, plays, last_played)
        SELECT a.user_id, t.album_id, count(*), max(a.creation_date)
        FROM added a JOIN track t ON t.id = a.track_id
        WHERE t.album_id IS NOT NULL
        GROUP BY a.user_id, t.album_id
        ON CONFLICT (user_id, album_id) DO UPDATE
        SET plays = p.plays + EXCLUDED.plays, last_played = greatest(p.last_played, EXCLUDED.last_played);
        RETURN NULL;
    END $$;

    CREATE FUNCTION album_play_removed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM album_play_recount(ARRAY(SELECT DISTINCT user_id FROM removed));
        RETURN NULL;
    END $$;

    CREATE FUNCTION album_play_moved() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM album_play_recount(ARRAY(SELECT DISTINCT l.user_id FROM listening l WHERE l.track_id = NEW.id));
        RETURN NULL;
    END $$;

    CREATE TRIGGER album_play_added AFTER INSERT ON listening REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION album_play_added();
    CREATE TRIGGER album_play_removed AFTER DELETE ON listening REFERENCING OLD TABLE AS removed
        FOR EACH STATEMENT EXECUTE FUNCTION album_play_removed();
    CREATE TRIGGER album_play_moved AFTER UPDATE OF album_id ON track
        FOR EACH ROW WHEN (OLD.album_id IS DISTINCT FROM NEW.album_id) EXECUTE FUNCTION album_play_moved();

    INSERT INTO album_play (user_id, album_id, plays, last_played)
    SELECT l.user_id, t.album_id, count(*), max(l.creation_date)
    FROM listening l JOIN track t ON t.id = l.track_id
    WHERE t.album_id IS NOT NULL
    GROUP BY l.user_id, t.album_id;
    """)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER album_play_moved ON track;
    DROP TRIGGER album_play_removed ON listening;
    DROP TRIGGER album_play_added ON listening;
    DROP FUNCTION album_play_moved(), album_play_removed(), album_play_added(), album_play_recount(bigint[]);
    DROP TABLE album_play;
    """)
