"""Alembic glue: the migration scripts ship inside the package; no alembic.ini is needed."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from funkwhale.db.pool import DatabaseUnreachable, connect

__all__ = ["DatabaseUnreachable", "SchemaOutdated", "check_at_head", "current_revision", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutdated(Exception):
    """The database is below the latest migration."""




def alembic_config(dsn: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", _sqlalchemy_url(dsn).replace("%", "%%"))
    return config


def _sqlalchemy_url(dsn: str) -> str:
    """psycopg2 accepts postgres:// and postgresql://; SQLAlchemy wants postgresql+psycopg2://."""
    scheme, _, rest = dsn.partition("://")
    return f"postgresql+psycopg2://{rest}" if scheme in ("postgres", "postgresql") else dsn


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("postgresql://")).get_current_head()
    assert head is not None
    return head


def current_revision(dsn: str) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    conn = connect(dsn, dict_rows=False)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('public.alembic_version') IS NOT NULL")
            if not cur.fetchone()[0]:
                return None
            cur.execute("SELECT version_num FROM alembic_version")
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def upgrade(dsn: str, revision: str = "head") -> None:
    """Apply migrations up to `revision` (synchronous: call it from a thread or before the reactor runs)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    connect(dsn, dict_rows=False).close()
    command.upgrade(alembic_config(dsn), revision)


def check_at_head(dsn: str) -> None:
    current, head = current_revision(dsn), head_revision()
    if current != head:
        raise SchemaOutdated(
            f"the database is at migration {current or 'none'}, the code needs {head}: run `funkwhale migrate`"
        )
