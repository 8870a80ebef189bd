"""SQL for users, their local actors, sessions and invitations.

Every function takes a cursor first (adbapi's Transaction in the daemon, a psycopg2 DictCursor in the
CLI) and composes inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from funkwhale.users.actors import NewActor
from funkwhale.users.models import Principal, User

# Serialises account creation, so "is this the first account?" has one answer per instance.
_CREATE_LOCK = 0x66770001

_USER_COLUMNS = """
    u.id, u.username, u.email, u.name, u.is_active, u.is_staff, u.is_superuser, u.permission_library,
    u.permission_moderation, u.permission_settings, u.privacy_level, u.upload_quota, u.actor_id,
    u.date_joined, u.last_login
"""


def lock_account_creation_txn(txn: Any) -> None:
    """Hold the account-creation lock until the transaction ends."""
    txn.execute("SELECT pg_advisory_xact_lock(%s)", (_CREATE_LOCK,))


def any_user_txn(txn: Any) -> bool:
    txn.execute("SELECT EXISTS (SELECT 1 FROM users) AS found")
    return bool(txn.fetchone()["found"])


def taken_txn(txn: Any, username: str, email: str, domain: str) -> dict[str, bool]:
    """Whether the username (an account or a local actor) and the email are in use, case-insensitively."""
    txn.execute(
        """
        SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(%(username)s))
               OR EXISTS (SELECT 1 FROM actor WHERE domain = %(domain)s
                          AND lower(preferred_username) = lower(%(username)s)) AS username,
               EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(%(email)s)) AS email
        """,
        {"username": username, "email": email, "domain": domain},
    )
    row = txn.fetchone()
    return {"username": bool(row["username"]), "email": bool(row["email"])}


def open_invitation_txn(txn: Any, code: str) -> int | None:
    """The id of the unused, unexpired invitation with this code (locked), or None."""
    txn.execute(
        """
        SELECT id FROM invitation
        WHERE lower(code) = lower(%s) AND expiration_date > now() AND users_count = 0
        FOR UPDATE
        """,
        (code,),
    )
    row = txn.fetchone()
    return None if row is None else row["id"]


def use_invitation_txn(txn: Any, invitation_id: int) -> None:
    txn.execute("UPDATE invitation SET users_count = users_count + 1 WHERE id = %s", (invitation_id,))


def ensure_domain_txn(txn: Any, name: str) -> None:
    txn.execute("INSERT INTO domain (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", (name,))


def insert_actor_txn(txn: Any, actor: NewActor, kind: str = "Person", if_absent: bool = False) -> int | None:
    """Insert a local actor of type `kind`; its id. With `if_absent`, an existing actor of that fid is kept and
    None is returned."""
    txn.execute(
        f"""
        INSERT INTO actor (fid, url, type, preferred_username, domain, name, inbox_url, outbox_url,
                           shared_inbox_url, followers_url, following_url, public_key, private_key)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        {"ON CONFLICT DO NOTHING" if if_absent else ""}
        RETURNING id
        """,
        (
            actor.fid,
            actor.url,
            kind,
            actor.preferred_username,
            actor.domain,
            actor.name,
            actor.inbox_url,
            actor.outbox_url,
            actor.shared_inbox_url,
            actor.followers_url,
            actor.following_url,
            actor.public_key,
            actor.private_key,
        ),
    )
    row = txn.fetchone()
    return None if row is None else row["id"]


def insert_user_txn(
    txn: Any,
    username: str,
    email: str,
    password_hash: str,
    actor_id: int,
    admin: bool,
    invitation_id: int | None,
) -> dict[str, Any]:
    """A new account; `admin` grants superuser, staff and every permission."""
    txn.execute(
        """
        INSERT INTO users (username, email, password, actor_id, invitation_id, is_superuser, is_staff,
                           permission_library, permission_moderation, permission_settings)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        RETURNING id, username, email, is_superuser
        """,
        (username, email, password_hash, actor_id, invitation_id, admin, admin, admin, admin, admin),
    )
    return txn.fetchone()


def login_user_txn(txn: Any, login: str) -> dict[str, Any] | None:
    """id, password hash and is_active of the account whose username or email is `login` (any case)."""
    txn.execute(
        """
        SELECT id, password, is_active FROM users
        WHERE lower(username) = lower(%(login)s) OR lower(email) = lower(%(login)s)
        ORDER BY lower(username) = lower(%(login)s) DESC
        LIMIT 1
        """,
        {"login": login},
    )
    return txn.fetchone()


def password_hash_txn(txn: Any, user_id: int) -> str | None:
    txn.execute("SELECT password FROM users WHERE id = %s", (user_id,))
    row = txn.fetchone()
    return None if row is None else row["password"]


def set_password_hash_txn(txn: Any, user_id: int, password_hash: str) -> None:
    """Store a new hash of the same password (parameters upgraded on login)."""
    txn.execute("UPDATE users SET password = %s WHERE id = %s", (password_hash, user_id))


def change_password_txn(txn: Any, user_id: int, password_hash: str, keep_session: str | None) -> None:
    """New password and secret key; every session of the user but `keep_session` (a key hash) ends."""
    txn.execute(
        "UPDATE users SET password = %s, secret_key = gen_random_uuid() WHERE id = %s",
        (password_hash, user_id),
    )
    txn.execute(
        "DELETE FROM session WHERE user_id = %s AND key_hash IS DISTINCT FROM %s", (user_id, keep_session)
    )


def set_password_by_username_txn(txn: Any, username: str, password_hash: str) -> bool:
    """For the CLI: new password and secret key, every session ended. False when there is no such user."""
    txn.execute("SELECT id FROM users WHERE lower(username) = lower(%s)", (username,))
    row = txn.fetchone()
    if row is None:
        return False
    change_password_txn(txn, row["id"], password_hash, None)
    return True


def create_session_txn(
    txn: Any, key_hash: str, user_id: int, csrf_token: str, expires: datetime, user_agent: str
) -> None:
    """A session for a successful login (also records last_login)."""
    txn.execute(
        "INSERT INTO session (key_hash, user_id, csrf_token, expire_date, user_agent) VALUES (%s, %s, %s, %s, %s)",
        (key_hash, user_id, csrf_token, expires, user_agent),
    )
    txn.execute("UPDATE users SET last_login = now(), last_activity = now() WHERE id = %s", (user_id,))


def delete_expired_sessions_txn(txn: Any) -> int:
    txn.execute("DELETE FROM session WHERE expire_date < now()")
    return txn.rowcount


def delete_session_txn(txn: Any, key_hash: str) -> None:
    txn.execute("DELETE FROM session WHERE key_hash = %s", (key_hash,))


def session_principal_txn(txn: Any, key_hash: str) -> tuple[Principal, str] | None:
    """(the principal, the session's CSRF token) for a live session of an active user, else None.
    Records the user's activity, at most once a minute."""
    txn.execute(
        f"""
        SELECT {_USER_COLUMNS}, s.csrf_token, s.expire_date,
               u.last_activity IS NULL OR u.last_activity < now() - interval '1 minute' AS stale
        FROM session s JOIN users u ON u.id = s.user_id
        WHERE s.key_hash = %s AND s.expire_date > now() AND u.is_active
        """,
        (key_hash,),
    )
    row = txn.fetchone()
    if row is None:
        return None
    if row["stale"]:
        txn.execute("UPDATE users SET last_activity = now() WHERE id = %s", (row["id"],))
    return Principal(User.from_row(row), via_session=True, expires=row["expire_date"]), row["csrf_token"]


def profile_txn(txn: Any, user_id: int) -> dict[str, Any] | None:
    """The account as /users/me shows it, with its actor's domain and summary."""
    txn.execute(
        f"""
        SELECT {_USER_COLUMNS}, u.secret_key, u.settings, a.domain, a.summary, to_json(att) AS avatar
        FROM users u LEFT JOIN actor a ON a.id = u.actor_id LEFT JOIN attachment att ON att.id = u.avatar_id
        WHERE u.id = %s
        """,
        (user_id,),
    )
    return txn.fetchone()


def merge_settings_txn(txn: Any, user_id: int, changes: str, limit: int) -> dict[str, Any] | None:
    """Merge `changes` (a JSON object, as text) into the user's settings; their new settings, or None (nothing
    written) when the result would exceed `limit` bytes of JSON."""
    txn.execute(
        "UPDATE users SET settings = settings || %s::jsonb WHERE id = %s"
        " AND octet_length((settings || %s::jsonb)::text) <= %s RETURNING settings",
        (changes, user_id, changes, limit),
    )
    row = txn.fetchone()
    return None if row is None else row["settings"]


def update_profile_txn(txn: Any, user_id: int, fields: dict[str, Any]) -> bool:
    """Set `name`, `privacy_level`, `avatar` (an attachment uuid or None) on the user and `summary` on its actor
    (those present in `fields`). False, with nothing changed, when the avatar names no attachment."""
    if fields.get("avatar") is not None:
        txn.execute(
            "UPDATE users SET avatar_id = att.id FROM attachment att WHERE users.id = %s AND att.uuid = %s",
            (user_id, fields["avatar"]),
        )
        if txn.rowcount == 0:
            return False
    elif "avatar" in fields:
        txn.execute("UPDATE users SET avatar_id = NULL WHERE id = %s", (user_id,))
    for column in ("name", "privacy_level"):
        if column in fields:
            txn.execute(f"UPDATE users SET {column} = %s WHERE id = %s", (fields[column], user_id))
    if "name" in fields:
        txn.execute(
            "UPDATE actor SET name = %s FROM users WHERE users.id = %s AND actor.id = users.actor_id",
            (fields["name"], user_id),
        )
    if "summary" in fields:
        txn.execute(
            "UPDATE actor SET summary = %s FROM users WHERE users.id = %s AND actor.id = users.actor_id",
            (fields["summary"], user_id),
        )
    return True


def delete_user_txn(txn: Any, user_id: int) -> None:
    """Remove the account (sessions and tokens go with it); its actor stays as a Tombstone without keys."""
    txn.execute(
        """
        UPDATE actor SET type = 'Tombstone', name = '', summary = '', private_key = NULL
        FROM users WHERE users.id = %s AND actor.id = users.actor_id
        """,
        (user_id,),
    )
    txn.execute("DELETE FROM users WHERE id = %s", (user_id,))


def subsonic_token_txn(txn: Any, user_id: int) -> str | None:
    txn.execute("SELECT subsonic_api_token FROM users WHERE id = %s", (user_id,))
    row = txn.fetchone()
    return None if row is None else row["subsonic_api_token"]


def set_subsonic_token_txn(txn: Any, user_id: int, token: str | None) -> None:
    txn.execute("UPDATE users SET subsonic_api_token = %s WHERE id = %s", (token, user_id))


def reset_user_txn(txn: Any, user_id: int | None, email: str | None) -> dict[str, Any] | None:
    """id, username, email, password, secret_key and is_active of the account with this id or e-mail (any case)."""
    txn.execute(
        "SELECT id, username, email, password, secret_key::text, is_active FROM users"
        " WHERE id = %s OR lower(email) = lower(%s) LIMIT 1",
        (user_id, email),
    )
    return txn.fetchone()


def reset_password_txn(txn: Any, user: dict[str, Any], password_hash: str) -> bool:
    """A reset: the new password and secret key, every session ended, when the account's password and secret key
    are still those of `user` (the row the token was checked against); False otherwise (a used token)."""
    txn.execute(
        "UPDATE users SET password = %s, secret_key = gen_random_uuid()"
        " WHERE id = %s AND password = %s AND secret_key::text = %s",
        (password_hash, user["id"], user["password"], user["secret_key"]),
    )
    if txn.rowcount != 1:
        return False
    txn.execute("DELETE FROM session WHERE user_id = %s", (user["id"],))
    return True


def change_email_txn(txn: Any, user_id: int, email: str) -> str | None:
    """Set the account's e-mail address and return the old one; None when another account has it."""
    lock_account_creation_txn(txn)  # no sign-up or other change takes the address meanwhile
    txn.execute("SELECT 1 FROM users WHERE lower(email) = lower(%s) AND id <> %s", (email, user_id))
    if txn.fetchone() is not None:
        return None
    txn.execute("SELECT email FROM users WHERE id = %s FOR UPDATE", (user_id,))
    old = txn.fetchone()["email"]
    txn.execute("UPDATE users SET email = %s WHERE id = %s", (email, user_id))
    return old
