"""Alembic glue: the migration scripts ship inside the package; no alembic.ini is needed.

Alembic (and SQLAlchemy under it, about 20 MiB per process) is imported only to migrate: a daemon whose database
is already at the latest revision, and every web or worker process, never loads it (`head_revision` reads the
scripts' revision ids itself)."""

from __future__ import annotations

import ast
import logging
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from funkwhale.db.pool import DatabaseUnreachable, connect

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["DatabaseUnreachable", "SchemaOutdated", "check_at_head", "current_revision", "upgrade"]

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutdated(Exception):
    """The database is below the latest migration."""


def alembic_config(dsn: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", _sqlalchemy_url(dsn).replace("%", "%%"))
    return config


def _sqlalchemy_url(dsn: str) -> str:
    """psycopg2 accepts postgres:// and postgresql://; SQLAlchemy wants postgresql+psycopg2://."""
    scheme, _, rest = dsn.partition("://")
    return f"postgresql+psycopg2://{rest}" if scheme in ("postgres", "postgresql") else dsn


def head_revision() -> str:
    """The latest revision of the migration scripts (the one no script revises), read from their `revision` and
    `down_revision` assignments without importing them."""
    revisions: set[str] = set()
    revised: set[object] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        names: dict[str, object] = {}
        for node in ast.parse(script.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                names.update({target.id: node.value.value for target in node.targets if isinstance(target, ast.Name)})
        if names.get("revision"):
            revisions.add(str(names["revision"]))
            revised.add(names.get("down_revision"))
    heads = revisions - revised
    assert len(heads) == 1, f"the migration scripts must have one head, not {sorted(heads)}"
    return heads.pop()


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
    """Apply migrations up to `revision` (synchronous: call it from a thread or before the reactor runs); a
    database already at the head is left alone without loading alembic."""
    if revision == "head" and current_revision(dsn) == head_revision():
        return
    from alembic import command

    logging.getLogger("alembic").setLevel(logging.WARNING)
    connect(dsn, dict_rows=False).close()
    command.upgrade(alembic_config(dsn), revision)


def upgrade_in_child(dsn: str) -> None:
    """`upgrade(dsn)` in a child process when the database is below the head, so that the daemon does not keep
    alembic and SQLAlchemy in memory for the rest of its life; its errors are on our stderr."""
    if current_revision(dsn) == head_revision():
        return
    code = "import sys; from funkwhale.db.schema import upgrade; upgrade(sys.argv[1])"
    if subprocess.run([sys.executable, "-c", code, dsn], stdin=subprocess.DEVNULL).returncode:
        raise SchemaOutdated("migrating the database failed (see the error above)")


def check_at_head(dsn: str) -> None:
    current, head = current_revision(dsn), head_revision()
    if current != head:
        raise SchemaOutdated(
            f"the database is at migration {current or 'none'}, the code needs {head}: run `funkwhale migrate`"
        )
