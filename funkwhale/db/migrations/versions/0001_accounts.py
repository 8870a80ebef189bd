"""Accounts: domains, actors, users, sessions, invitations, OAuth, instance settings.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE EXTENSION IF NOT EXISTS pg_trgm;

    CREATE TABLE domain (
        name text PRIMARY KEY,
        creation_date timestamptz NOT NULL DEFAULT now(),
        nodeinfo jsonb NOT NULL DEFAULT '{}',
        nodeinfo_fetch_date timestamptz,
        service_actor_id bigint,
        allowed boolean,
        reachable boolean NOT NULL DEFAULT true,
        last_successful_contact timestamptz
    );

    CREATE TABLE actor (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        fid text NOT NULL UNIQUE,
        url text,
        type text NOT NULL DEFAULT 'Person'
            CHECK (type IN ('Person', 'Application', 'Group', 'Organization', 'Service', 'Tombstone')),
        preferred_username text NOT NULL,
        domain text NOT NULL REFERENCES domain (name),
        name text NOT NULL DEFAULT '',
        summary text NOT NULL DEFAULT '',
        inbox_url text,
        outbox_url text,
        shared_inbox_url text,
        followers_url text,
        following_url text,
        public_key text,
        private_key text,
        manually_approves_followers boolean NOT NULL DEFAULT false,
        creation_date timestamptz NOT NULL DEFAULT now(),
        last_fetch_date timestamptz,
        UNIQUE (domain, preferred_username)
    );
    ALTER TABLE domain ADD CONSTRAINT domain_service_actor_fk
        FOREIGN KEY (service_actor_id) REFERENCES actor (id) ON DELETE SET NULL;

    CREATE TABLE users (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        username text NOT NULL,
        email text NOT NULL,
        password text NOT NULL,
        name text NOT NULL DEFAULT '',
        is_active boolean NOT NULL DEFAULT true,
        is_staff boolean NOT NULL DEFAULT false,
        is_superuser boolean NOT NULL DEFAULT false,
        permission_library boolean NOT NULL DEFAULT false,
        permission_moderation boolean NOT NULL DEFAULT false,
        permission_settings boolean NOT NULL DEFAULT false,
        privacy_level text NOT NULL DEFAULT 'instance'
            CHECK (privacy_level IN ('me', 'followers', 'instance', 'everyone')),
        subsonic_api_token text,
        secret_key uuid NOT NULL DEFAULT gen_random_uuid(),
        upload_quota integer CHECK (upload_quota >= 0),
        actor_id bigint UNIQUE REFERENCES actor (id) ON DELETE SET NULL,
        invitation_id bigint,
        settings jsonb NOT NULL DEFAULT '{}',
        date_joined timestamptz NOT NULL DEFAULT now(),
        last_login timestamptz,
        last_activity timestamptz
    );
    CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
    CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

    CREATE TABLE invitation (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        code text NOT NULL,
        owner_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        creation_date timestamptz NOT NULL DEFAULT now(),
        expiration_date timestamptz NOT NULL,
        users_count integer NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX invitation_code_lower ON invitation (lower(code));
    CREATE INDEX invitation_owner ON invitation (owner_id);
    ALTER TABLE users ADD CONSTRAINT users_invitation_fk
        FOREIGN KEY (invitation_id) REFERENCES invitation (id) ON DELETE SET NULL;

    CREATE TABLE session (
        key_hash text PRIMARY KEY,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        csrf_token text NOT NULL,
        creation_date timestamptz NOT NULL DEFAULT now(),
        expire_date timestamptz NOT NULL,
        user_agent text NOT NULL DEFAULT ''
    );
    CREATE INDEX session_user_id ON session (user_id);
    CREATE INDEX session_expire ON session (expire_date);

    CREATE TABLE oauth_application (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        client_id text NOT NULL UNIQUE,
        client_secret_hash text NOT NULL,
        name text NOT NULL,
        redirect_uris text NOT NULL DEFAULT '',
        scope text NOT NULL DEFAULT 'read',
        user_id bigint REFERENCES users (id) ON DELETE CASCADE,
        token_hash text UNIQUE,
        creation_date timestamptz NOT NULL DEFAULT now(),
        modification_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX oauth_application_user ON oauth_application (user_id);

    CREATE TABLE oauth_grant (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        code_hash text NOT NULL UNIQUE,
        application_id bigint NOT NULL REFERENCES oauth_application (id) ON DELETE CASCADE,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        redirect_uri text NOT NULL,
        scope text NOT NULL,
        code_challenge text NOT NULL DEFAULT '',
        code_challenge_method text NOT NULL DEFAULT '',
        expires timestamptz NOT NULL,
        creation_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX oauth_grant_user ON oauth_grant (user_id);

    CREATE TABLE oauth_access_token (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        application_id bigint NOT NULL REFERENCES oauth_application (id) ON DELETE CASCADE,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        scope text NOT NULL,
        expires timestamptz NOT NULL,
        creation_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX oauth_access_token_user ON oauth_access_token (user_id);
    CREATE INDEX oauth_access_token_expires ON oauth_access_token (expires);

    CREATE TABLE oauth_refresh_token (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        application_id bigint NOT NULL REFERENCES oauth_application (id) ON DELETE CASCADE,
        user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        access_token_id bigint REFERENCES oauth_access_token (id) ON DELETE SET NULL,
        scope text NOT NULL,
        revoked timestamptz,
        creation_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX oauth_refresh_token_user ON oauth_refresh_token (user_id);
    CREATE INDEX oauth_refresh_token_access ON oauth_refresh_token (access_token_id);

    CREATE TABLE instance_setting (
        name text PRIMARY KEY,
        value jsonb NOT NULL,
        modification_date timestamptz NOT NULL DEFAULT now()
    );
    """)


def downgrade() -> None:
    op.execute("""
    DROP TABLE instance_setting, oauth_refresh_token, oauth_access_token, oauth_grant, oauth_application,
        session, invitation, users, actor, domain CASCADE;
    """)
