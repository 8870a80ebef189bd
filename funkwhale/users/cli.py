"""`funkwhale createuser` and `funkwhale changepassword`: accounts from the command line.

The password comes from stdin when it is not a terminal (two lines: password, confirmation), else from
two getpass prompts. Both commands use the same rules as the API (accounts.py) on a direct connection.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from funkwhale.cli import EXTENSIONS, command, database
from funkwhale.config import Settings

# Every `funkwhale` command imports this module to list its commands: what only these commands use is imported
# when one runs.


class CliError(Exception):
    """A one-line message for the operator (exit status 1)."""


def _read_password(username: str) -> str:
    from funkwhale.users import accounts

    if sys.stdin.isatty():
        first, second = getpass.getpass("Password: "), getpass.getpass("Password (again): ")
    else:
        lines = sys.stdin.read().splitlines()
        first, second = (lines + ["", ""])[:2]
    if first != second:
        raise CliError("the two passwords didn't match")
    problems = accounts.password_problems(first, username) if first else ["This field may not be blank."]
    if problems:
        raise CliError(f"password refused: {' '.join(problems)}")
    return first


def _fail(message: str) -> int:
    print(f"funkwhale: {message}", file=sys.stderr)
    return 1


@command("createuser")
def createuser(args: argparse.Namespace, settings: Settings) -> int:
    """Create an account (with its actor); --superuser makes it an administrator."""
    from funkwhale.errors import Invalid
    from funkwhale.users import accounts

    errors = {}
    if problems := accounts.username_problems(args.username):
        errors["username"] = problems
    if not accounts.EMAIL_RE.match(args.email):
        errors["email"] = ["Enter a valid email address."]
    try:
        if errors:
            raise Invalid(fields=errors)
        password = _read_password(args.username)
        with database(settings) as (settings, conn), conn.cursor() as cur:
            accounts.check_available_txn(cur, args.username, args.email, settings.domain)
            account = accounts.prepare_account(settings, args.username, args.email, password, args.superuser)
            user = accounts.create_account_txn(cur, account)
    except Invalid as e:
        return _fail("; ".join(f"{field}: {' '.join(messages)}" for field, messages in e.fields.items()))
    except CliError as e:
        return _fail(str(e))
    role = "administrator" if user["is_superuser"] else "user"
    print(f"{role} {user['username']} created")
    return 0


@command("changepassword")
def changepassword(args: argparse.Namespace, settings: Settings) -> int:
    """Set a new password for an account; its sessions end."""
    from funkwhale import cache
    from funkwhale.users import auth_cache, store
    from funkwhale.users.passwords import hash_password

    try:
        password_hash = hash_password(_read_password(args.username))
    except CliError as e:
        return _fail(str(e))
    with database(settings) as (settings, conn):
        with conn.cursor() as cur:
            found = store.set_password_by_username_txn(cur, args.username, password_hash)
        conn.commit()
        if found and settings.redis_url:  # the sessions just ended must stop working in a running daemon
            cache.invalidate_from_cli(settings.redis_url, auth_cache.AUTH)
    if not found:
        return _fail(f"no user named {args.username}")
    print(f"password of {args.username} changed")
    return 0


def _add_parsers(sub: Any) -> None:
    create = sub.add_parser("createuser", help=createuser.__doc__)
    create.add_argument("username")
    create.add_argument("--email", required=True)
    create.add_argument(
        "--superuser", action="store_true", help="administrator: staff, superuser, all permissions"
    )
    change = sub.add_parser("changepassword", help=changepassword.__doc__)
    change.add_argument("username")


EXTENSIONS.append(_add_parsers)
