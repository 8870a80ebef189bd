"""Subsonic: starred albums and artists (starred tracks are favorites), ratings, bookmarks, play queues.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE starred_album (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        album_id bigint NOT NULL REFERENCES album (id) ON DELETE CASCADE,
        creation_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (user_id, album_id)
    );
    CREATE INDEX starred_album_user_date ON starred_album (user_id, creation_date DESC);
    CREATE INDEX starred_album_album ON starred_album (album_id);

    CREATE TABLE starred_artist (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        artist_id bigint NOT NULL REFERENCES artist (id) ON DELETE CASCADE,
        creation_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (user_id, artist_id)
    );
    CREATE INDEX starred_artist_user_date ON starred_artist (user_id, creation_date DESC);
    CREATE INDEX starred_artist_artist ON starred_artist (artist_id);

    CREATE TABLE rating (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        object_type text NOT NULL CHECK (object_type IN ('track', 'album', 'artist')),
        object_id bigint NOT NULL,
        rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (user_id, object_type, object_id)
    );
    CREATE INDEX rating_user_best ON rating (user_id, object_type, rating DESC, modification_date DESC);
    CREATE INDEX rating_object ON rating (object_type, object_id);

    CREATE TABLE bookmark (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        track_id bigint NOT NULL REFERENCES track (id) ON DELETE CASCADE,
        position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
        comment text NOT NULL DEFAULT '',
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (user_id, track_id)
    );
    CREATE INDEX bookmark_user_date ON bookmark (user_id, modification_date DESC);
    CREATE INDEX bookmark_track ON bookmark (track_id);

    CREATE TABLE play_queue (
        user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        current_track_id bigint REFERENCES track (id) ON DELETE SET NULL,
        position bigint NOT NULL DEFAULT 0 CHECK (position >= 0),
        track_ids bigint[] NOT NULL DEFAULT '{}',
        changed timestamptz NOT NULL DEFAULT now(),
        changed_by text NOT NULL DEFAULT ''
    );
    CREATE INDEX play_queue_current ON play_queue (current_track_id);
    """)


def downgrade() -> None:
    op.execute("DROP TABLE play_queue, bookmark, rating, starred_artist, starred_album CASCADE")
