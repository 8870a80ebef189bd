"""Federation: activities in and out, deliveries, library follows, fetches, scans and moderation policies.

- `activity`: every activity we received (its `fid` is unique, so a second copy is a duplicate) or sent.
- `inbox_item`: a received activity addressed to a local actor (the notifications of `/federation/inbox/`).
- `delivery`: one row per (sent activity, remote inbox): attempts, next attempt, outcome.
- `library_follow`: an actor following a library (local or remote); `approved` is null while the owner decides.
- `remote_fetch`: a remote object a user asked for (`/federation/libraries/fetch/`, `/federation/fetches/`).
- `library_scan`: a walk of a remote library's pages into remote uploads, resumable from `next_page`.
- `instance_policy`: the MRF-style table: a domain or an actor blocked, silenced, or its media rejected.
- `library.followers_url` and `library.uploads_count` (what a remote library says it holds).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE library ADD COLUMN followers_url text;
    ALTER TABLE library ADD COLUMN uploads_count integer NOT NULL DEFAULT 0;

    CREATE TABLE activity (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        fid text UNIQUE,
        actor_id bigint REFERENCES actor (id) ON DELETE CASCADE,
        type text NOT NULL,
        object_fid text,
        payload jsonb NOT NULL,
        creation_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX activity_actor ON activity (actor_id, creation_date);
    CREATE INDEX activity_creation ON activity (creation_date);

    CREATE TABLE inbox_item (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        activity_id bigint NOT NULL REFERENCES activity (id) ON DELETE CASCADE,
        actor_id bigint NOT NULL REFERENCES actor (id) ON DELETE CASCADE,
        type text NOT NULL DEFAULT 'to' CHECK (type IN ('to', 'cc')),
        is_read boolean NOT NULL DEFAULT false,
        UNIQUE (activity_id, actor_id)
    );
    CREATE INDEX inbox_item_actor ON inbox_item (actor_id, id);
    CREATE INDEX inbox_item_unread ON inbox_item (actor_id) WHERE NOT is_read;

    CREATE TABLE delivery (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        activity_id bigint NOT NULL REFERENCES activity (id) ON DELETE CASCADE,
        inbox_url text NOT NULL,
        host text NOT NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        last_attempt_date timestamptz,
        next_attempt_date timestamptz NOT NULL DEFAULT now(),
        last_error text NOT NULL DEFAULT '',
        creation_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (activity_id, inbox_url)
    );
    CREATE INDEX delivery_pending ON delivery (next_attempt_date) WHERE status = 'pending';
    CREATE INDEX delivery_host ON delivery (host, status);

    CREATE TABLE library_follow (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        fid text NOT NULL UNIQUE,
        actor_id bigint NOT NULL REFERENCES actor (id) ON DELETE CASCADE,
        target_id bigint NOT NULL REFERENCES library (id) ON DELETE CASCADE,
        approved boolean,
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now(),
        UNIQUE (actor_id, target_id)
    );
    CREATE INDEX library_follow_target ON library_follow (target_id, approved);

    CREATE TABLE remote_fetch (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        url text NOT NULL,
        actor_id bigint REFERENCES actor (id) ON DELETE CASCADE,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'errored', 'finished', 'skipped')),
        detail jsonb NOT NULL DEFAULT '{}',
        object_type text,
        object_id bigint,
        creation_date timestamptz NOT NULL DEFAULT now(),
        fetch_date timestamptz
    );
    CREATE INDEX remote_fetch_actor ON remote_fetch (actor_id, creation_date);

    CREATE TABLE library_scan (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        library_id bigint NOT NULL REFERENCES library (id) ON DELETE CASCADE,
        actor_id bigint REFERENCES actor (id) ON DELETE SET NULL,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'scanning', 'errored', 'finished')),
        total_files integer NOT NULL DEFAULT 0,
        processed_files integer NOT NULL DEFAULT 0,
        errored_files integer NOT NULL DEFAULT 0,
        next_page text,
        last_error text NOT NULL DEFAULT '',
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX library_scan_library ON library_scan (library_id, creation_date);

    CREATE TABLE instance_policy (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        target_domain text REFERENCES domain (name) ON DELETE CASCADE,
        target_actor_id bigint REFERENCES actor (id) ON DELETE CASCADE,
        block_all boolean NOT NULL DEFAULT false,
        silence_activity boolean NOT NULL DEFAULT false,
        silence_notifications boolean NOT NULL DEFAULT false,
        reject_media boolean NOT NULL DEFAULT false,
        is_active boolean NOT NULL DEFAULT true,
        summary text NOT NULL DEFAULT '',
        actor_id bigint REFERENCES actor (id) ON DELETE SET NULL,
        creation_date timestamptz NOT NULL DEFAULT now(),
        CHECK ((target_domain IS NULL) <> (target_actor_id IS NULL))
    );
    CREATE UNIQUE INDEX instance_policy_domain ON instance_policy (target_domain) WHERE target_domain IS NOT NULL;
    CREATE UNIQUE INDEX instance_policy_actor ON instance_policy (target_actor_id) WHERE target_actor_id IS NOT NULL;

    CREATE INDEX upload_accessed ON upload (accessed_date) WHERE audio_file IS NOT NULL AND source LIKE 'http%';
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX upload_accessed;
    DROP TABLE instance_policy, library_scan, remote_fetch, library_follow, delivery, inbox_item, activity;
    ALTER TABLE library DROP COLUMN uploads_count;
    ALTER TABLE library DROP COLUMN followers_url;
    """)
