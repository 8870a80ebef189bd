"""Arrange data directly in the database (for tests whose subject is something else)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher

from funkwhale.users.tokens import hash_token

_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def insert_user(conn: Any, username: str, password: str = "password-1234", **fields: Any) -> dict[str, Any]:
    """A user row (no actor); returns the row."""
    values = {"username": username, "email": f"{username}@example.org", "password": _hasher.hash(password)}
    values.update(fields)
    cols = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO users ({cols}) VALUES ({marks}) RETURNING *", list(values.values()))
        return cur.fetchone()


def insert_session(conn: Any, user_id: int, lifetime: timedelta = timedelta(days=1)) -> tuple[str, str]:
    """A logged-in session: returns (sessionid cookie value, csrftoken)."""
    key, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO session (key_hash, user_id, csrf_token, expire_date) VALUES (%s, %s, %s, %s)",
            (hash_token(key), user_id, csrf, datetime.now(UTC) + lifetime),
        )
    return key, csrf
