"""Listener features: favorites, listenings, playlists, radios and radio sessions, content filters.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE track_favorite (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        track_id bigint NOT NULL REFERENCES track (id) ON DELETE CASCADE,
        source text NOT NULL DEFAULT 'web',
        creation_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (user_id, track_id)
    );
    CREATE INDEX track_favorite_user_date ON track_favorite (user_id, creation_date DESC);
    CREATE INDEX track_favorite_track ON track_favorite (track_id);

    CREATE TABLE listening (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        track_id bigint NOT NULL REFERENCES track (id) ON DELETE CASCADE,
        source text NOT NULL DEFAULT 'web',
        creation_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX listening_user_date ON listening (user_id, creation_date DESC);
    CREATE INDEX listening_track ON listening (track_id);
    CREATE INDEX listening_date ON listening (creation_date DESC);

    CREATE TABLE playlist (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        description text NOT NULL DEFAULT '',
        privacy_level text NOT NULL DEFAULT 'instance' CHECK (privacy_level IN ('me', 'instance', 'everyone')),
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX playlist_user ON playlist (user_id, modification_date DESC);
    CREATE INDEX playlist_privacy ON playlist (privacy_level);
    CREATE INDEX playlist_name_trgm ON playlist USING gin (lower(name) gin_trgm_ops);

    CREATE TABLE playlist_track (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        playlist_id bigint NOT NULL REFERENCES playlist (id) ON DELETE CASCADE,
        track_id bigint NOT NULL REFERENCES track (id) ON DELETE CASCADE,
        index integer NOT NULL CHECK (index >= 0),
        creation_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (playlist_id, index) DEFERRABLE INITIALLY DEFERRED
    );
    CREATE INDEX playlist_track_track ON playlist_track (track_id);

    CREATE TABLE radio (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        description text NOT NULL DEFAULT '',
        is_public boolean NOT NULL DEFAULT false,
        config jsonb NOT NULL DEFAULT '[]',
        creation_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX radio_user ON radio (user_id);
    CREATE INDEX radio_public ON radio (is_public) WHERE is_public;

    CREATE TABLE radio_session (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id bigint REFERENCES users (id) ON DELETE CASCADE,
        session_key text,
        radio_type text NOT NULL,
        custom_radio_id bigint REFERENCES radio (id) ON DELETE CASCADE,
        related_object_id text,
        config jsonb,
        creation_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX radio_session_user ON radio_session (user_id);

    CREATE TABLE radio_session_track (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id bigint NOT NULL REFERENCES radio_session (id) ON DELETE CASCADE,
        track_id bigint NOT NULL REFERENCES track (id) ON DELETE CASCADE,
        position integer NOT NULL,
        creation_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (session_id, position)
    );
    CREATE INDEX radio_session_track_seen ON radio_session_track (session_id, track_id);

    CREATE TABLE user_filter (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        target_artist_id bigint NOT NULL REFERENCES artist (id) ON DELETE CASCADE,
        creation_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (user_id, target_artist_id)
    );
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE user_filter, radio_session_track, radio_session, radio, playlist_track, playlist, listening,
        track_favorite CASCADE;
    """)
