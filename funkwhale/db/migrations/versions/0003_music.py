"""Music: attachments, libraries, artists, albums, tracks, uploads, transcodes, tags.

`*_key` columns hold names folded by funkwhale.music.normalize.fold (lower case, accents and punctuation
stripped), computed in Python: find-or-create matches on them, and search runs pg_trgm on them (PostgreSQL's
unaccent extension is not part of the embedded server).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE attachment (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        url text,
        actor_id bigint REFERENCES actor (id) ON DELETE SET NULL,
        file text,
        mimetype text NOT NULL DEFAULT '',
        size bigint NOT NULL DEFAULT 0,
        checksum text,
        creation_date timestamptz NOT NULL DEFAULT now(),
        last_fetch_date timestamptz
    );
    CREATE UNIQUE INDEX attachment_checksum ON attachment (checksum) WHERE checksum IS NOT NULL;

    CREATE TABLE library (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        fid text NOT NULL UNIQUE,
        actor_id bigint NOT NULL REFERENCES actor (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        description text NOT NULL DEFAULT '',
        privacy_level text NOT NULL DEFAULT 'me' CHECK (privacy_level IN ('me', 'instance', 'everyone')),
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX library_actor ON library (actor_id);
    CREATE INDEX library_privacy ON library (privacy_level);

    CREATE TABLE artist (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        fid text NOT NULL UNIQUE,
        mbid uuid,
        name text NOT NULL,
        name_key text NOT NULL,
        content_category text NOT NULL DEFAULT 'music' CHECK (content_category IN ('music', 'podcast', 'other')),
        description text NOT NULL DEFAULT '',
        attachment_cover_id bigint REFERENCES attachment (id) ON DELETE SET NULL,
        attributed_to_id bigint REFERENCES actor (id) ON DELETE SET NULL,
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX artist_mbid ON artist (mbid) WHERE mbid IS NOT NULL;
    CREATE INDEX artist_name_key ON artist (name_key);
    CREATE INDEX artist_name_key_trgm ON artist USING gin (name_key gin_trgm_ops);
    CREATE INDEX artist_creation ON artist (creation_date);

    CREATE TABLE album (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        fid text NOT NULL UNIQUE,
        mbid uuid,
        title text NOT NULL,
        title_key text NOT NULL,
        artist_id bigint NOT NULL REFERENCES artist (id) ON DELETE CASCADE,
        release_date date,
        attachment_cover_id bigint REFERENCES attachment (id) ON DELETE SET NULL,
        attributed_to_id bigint REFERENCES actor (id) ON DELETE SET NULL,
        description text NOT NULL DEFAULT '',
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX album_mbid ON album (mbid) WHERE mbid IS NOT NULL;
    CREATE INDEX album_artist_title_key ON album (artist_id, title_key);
    CREATE INDEX album_title_key ON album (title_key);
    CREATE INDEX album_title_key_trgm ON album USING gin (title_key gin_trgm_ops);
    CREATE INDEX album_creation ON album (creation_date);
    CREATE INDEX album_release ON album (release_date);

    CREATE TABLE track (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        fid text NOT NULL UNIQUE,
        mbid uuid,
        title text NOT NULL,
        title_key text NOT NULL,
        artist_id bigint NOT NULL REFERENCES artist (id) ON DELETE CASCADE,
        album_id bigint REFERENCES album (id) ON DELETE CASCADE,
        position integer,
        disc_number integer,
        copyright text NOT NULL DEFAULT '',
        license text,
        description text NOT NULL DEFAULT '',
        attachment_cover_id bigint REFERENCES attachment (id) ON DELETE SET NULL,
        attributed_to_id bigint REFERENCES actor (id) ON DELETE SET NULL,
        downloads_count integer NOT NULL DEFAULT 0,
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX track_mbid ON track (mbid) WHERE mbid IS NOT NULL;
    CREATE INDEX track_album_order ON track (album_id, disc_number, position);
    CREATE INDEX track_artist ON track (artist_id);
    CREATE INDEX track_title_key ON track (title_key);
    CREATE INDEX track_title_key_trgm ON track USING gin (title_key gin_trgm_ops);
    CREATE INDEX track_creation ON track (creation_date);

    CREATE TABLE upload (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        fid text NOT NULL UNIQUE,
        library_id bigint NOT NULL REFERENCES library (id) ON DELETE CASCADE,
        track_id bigint REFERENCES track (id) ON DELETE SET NULL,
        audio_file text,
        source text,
        original_name text NOT NULL DEFAULT '',
        mimetype text NOT NULL DEFAULT '',
        size bigint NOT NULL DEFAULT 0,
        duration integer,
        bitrate integer,
        sample_rate integer,
        checksum text,
        import_status text NOT NULL DEFAULT 'pending'
            CHECK (import_status IN ('draft', 'pending', 'finished', 'errored', 'skipped')),
        import_metadata jsonb NOT NULL DEFAULT '{}',
        import_details jsonb NOT NULL DEFAULT '{}',
        import_reference text NOT NULL DEFAULT '',
        import_date timestamptz,
        metadata jsonb NOT NULL DEFAULT '{}',
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now(),
        accessed_date timestamptz
    );
    CREATE INDEX upload_library_status ON upload (library_id, import_status);
    CREATE INDEX upload_track ON upload (track_id);
    CREATE INDEX upload_status ON upload (import_status);
    CREATE INDEX upload_reference ON upload (import_reference);
    CREATE INDEX upload_creation ON upload (creation_date);
    CREATE UNIQUE INDEX upload_source ON upload (library_id, source) WHERE source LIKE 'file://%%';

    CREATE TABLE upload_version (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        upload_id bigint NOT NULL REFERENCES upload (id) ON DELETE CASCADE,
        mimetype text NOT NULL,
        bitrate integer NOT NULL,
        audio_file text NOT NULL,
        size bigint NOT NULL DEFAULT 0,
        creation_date timestamptz NOT NULL DEFAULT now(),
        accessed_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (upload_id, mimetype, bitrate)
    );
    CREATE INDEX upload_version_accessed ON upload_version (accessed_date);

    CREATE TABLE tag (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
        mbid uuid,
        creation_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX tag_name_lower ON tag (lower(name));
    CREATE INDEX tag_name_trgm ON tag USING gin (lower(name) gin_trgm_ops);

    CREATE TABLE tagged_item (
        tag_id bigint NOT NULL REFERENCES tag (id) ON DELETE CASCADE,
        object_type text NOT NULL CHECK (object_type IN ('artist', 'album', 'track')),
        object_id bigint NOT NULL,
        creation_date timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (object_type, object_id, tag_id)
    );
    CREATE INDEX tagged_item_tag ON tagged_item (tag_id, object_type);

    ALTER TABLE users ADD COLUMN avatar_id bigint REFERENCES attachment (id) ON DELETE SET NULL;
    """)


def downgrade() -> None:
    op.execute("""
    ALTER TABLE users DROP COLUMN avatar_id;
    DROP TABLE tagged_item, tag, upload_version, upload, track, album, artist, library, attachment CASCADE;
    """)
