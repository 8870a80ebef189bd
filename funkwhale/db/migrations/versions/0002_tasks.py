"""Tasks: the durable record of work the Redis queue carries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE task (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        queue text NOT NULL DEFAULT 'default',
        args jsonb NOT NULL DEFAULT '[]',
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'dead')),
        attempts integer NOT NULL DEFAULT 0,
        run_at timestamptz NOT NULL DEFAULT now(),
        last_error text NOT NULL DEFAULT '',
        creation_date timestamptz NOT NULL DEFAULT now(),
        update_date timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX task_unfinished ON task (update_date) WHERE status IN ('pending', 'running');
    CREATE INDEX task_done ON task (update_date) WHERE status = 'done';
    """)


def downgrade() -> None:
    op.execute("DROP TABLE task")
