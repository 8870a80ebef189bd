"""The `funkwhale` command: migrate, createuser, check, config.

Each command reads the same settings as the daemon (FUNKWHALE_* variables, --config, --data-dir). On the
embedded default it attaches to the daemon's PostgreSQL and Redis when the daemon is up, else it starts
them for the duration of the command.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from funkwhale import storage, threads
from funkwhale.config import (
    ConfigError,
    Settings,
    describe,
    ensure_secret_key,
    load_settings,
    recorded_public_address,
    to_environ,
)

COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace, Settings], int]], Any]:
    def register(fn: Callable[[argparse.Namespace, Settings], int]) -> Any:
        COMMANDS[name] = fn
        return fn

    return register


@contextlib.contextmanager
def database(settings: Settings, migrate: bool = True) -> Iterator[tuple[Settings, Any]]:
    """Settings with server URLs filled in, and a synchronous psycopg2 connection (committed on success)."""
    from funkwhale.db.pool import connect
    from funkwhale.startup import prepare

    if not migrate:
        settings = _without_migration_check(settings)
    settings, servers, _ = prepare(settings, daemon=False)
    try:
        assert settings.database_url is not None
        conn = connect(settings.database_url)
        try:
            with conn:
                yield settings, conn
        finally:
            conn.close()
    finally:
        if servers is not None:
            servers.stop(only_started_here=True)


def _without_migration_check(settings: Settings) -> Settings:
    import dataclasses

    return dataclasses.replace(settings, check_migrations=False)


@command("migrate")
def migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the database migrations (external databases; the embedded one migrates itself)."""
    from funkwhale.db import schema

    with database(settings, migrate=False) as (settings, _):
        assert settings.database_url is not None
        schema.upgrade(settings.database_url)
        print(f"database at migration {schema.current_revision(settings.database_url)}")
    return 0


@command("check")
def check(args: argparse.Namespace, settings: Settings) -> int:
    """Check the settings, reach the database and Redis, and report the migration state."""
    from funkwhale.db import schema

    with database(settings, migrate=False) as (settings, _):
        assert settings.database_url is not None
        current, head = schema.current_revision(settings.database_url), schema.head_revision()
        print(f"database: {'ok' if current == head else 'needs `funkwhale migrate`'} ({current or 'empty'}/{head})")
        print(f"redis: {settings.redis_url}")
    return 0 if current == head else 1


@command("config")
def show_config(args: argparse.Namespace, settings: Settings) -> int:
    """Print every setting with its environment variable and current value, written as the variable takes it."""
    values = to_environ(settings)
    for env, help_text, _default in describe():
        value = "(set)" if env == "FUNKWHALE_SECRET_KEY" and settings.secret_key else values[env]
        print(f"{env}={value}    # {help_text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="funkwhale", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data directory [FUNKWHALE_DATA_DIR, ./data]")
    parser.add_argument("--config", help="ini file with a [funkwhale] section [FUNKWHALE_CONFIG]")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help=migrate.__doc__)
    sub.add_parser("check", help=check.__doc__)
    sub.add_parser("config", help=show_config.__doc__)
    for extend in EXTENSIONS:
        extend(sub)
    return parser


# Modules that add sub-commands when imported (see _load_extensions).
CLI_MODULES: list[str] = ["funkwhale.users.cli", "funkwhale.music.importer.cli"]

# Modules that add sub-commands: each is a function(subparsers) that adds its parser(s) and registers with @command.
EXTENSIONS: list[Callable[[Any], None]] = []


def main(argv: list[str] | None = None) -> int:
    _load_extensions()
    args = build_parser().parse_args(argv)
    try:
        overrides = {"data_dir": args.data_dir}
        settings = load_settings(os.environ, overrides, args.config)
        recorded = recorded_public_address(settings.data_dir)  # the daemon's address, for the same federation ids
        if recorded:
            settings = load_settings(os.environ, overrides, args.config, defaults=recorded)
        storage.apply_umask(settings)  # before anything is written, as the daemon does
        settings = ensure_secret_key(settings)
        threads.configure(settings)
        return COMMANDS[args.command](args, settings)
    except ConfigError as e:
        print(f"funkwhale: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # one line for the operator; the details are for a bug report
        from funkwhale.db.schema import DatabaseUnreachable, SchemaOutdated
        from funkwhale.embedded import EmbeddedError

        if isinstance(e, (SchemaOutdated, DatabaseUnreachable, EmbeddedError)):
            print(f"funkwhale: {e}", file=sys.stderr)
            return 1
        raise


def _load_extensions() -> None:
    """Import the modules that contribute commands (they append to EXTENSIONS)."""
    import importlib

    for name in CLI_MODULES:
        importlib.import_module(name)


if __name__ == "__main__":
    sys.exit(main())
