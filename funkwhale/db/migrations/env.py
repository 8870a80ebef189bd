"""Alembic environment: migrations are plain SQL run on a SQLAlchemy connection (no ORM models)."""

from alembic import context
from sqlalchemy import create_engine, pool

url = context.config.get_main_option("sqlalchemy.url")
if url is None:  # funkwhale.db.schema sets it
    raise RuntimeError("alembic: sqlalchemy.url is not set")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
