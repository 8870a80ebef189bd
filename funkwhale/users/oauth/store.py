"""All OAuth SQL: applications, authorization grants, access and refresh tokens, bearer lookup.

Secrets arrive here already hashed. Times are PostgreSQL's `now()`; lifetimes are seconds."""

from __future__ import annotations

from typing import Any

from funkwhale.users.models import Principal, User
from funkwhale.users.oauth.scopes import expand

_APP_COLUMNS = "id, client_id, name, redirect_uris, scope, user_id, creation_date, modification_date"


def insert_application_txn(
    txn: Any,
    client_id: str,
    secret_hash: str,
    fields: dict[str, str],
    user_id: int | None,
    token_hash: str | None,
) -> dict[str, Any]:
    """A new application; `fields` holds name, redirect_uris and scope."""
    txn.execute(
        "INSERT INTO oauth_application (client_id, client_secret_hash, name, redirect_uris, scope, user_id,"
        f" token_hash) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_APP_COLUMNS}",
        (
            client_id,
            secret_hash,
            fields["name"],
            fields["redirect_uris"],
            fields["scope"],
            user_id,
            token_hash,
        ),
    )
    return txn.fetchone()


def application_txn(txn: Any, client_id: str) -> dict[str, Any] | None:
    txn.execute(f"SELECT {_APP_COLUMNS} FROM oauth_application WHERE client_id = %s", (client_id,))
    return txn.fetchone()


def client_txn(txn: Any, client_id: str) -> dict[str, Any] | None:
    """An application with its secret hash, for client authentication."""
    txn.execute(f"SELECT {_APP_COLUMNS}, client_secret_hash FROM oauth_application WHERE client_id = %s", (client_id,))
    return txn.fetchone()


def user_applications_txn(txn: Any, user_id: int, limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    """(how many applications `user_id` owns, one page of them, newest first)."""
    txn.execute(
        f"SELECT {_APP_COLUMNS}, count(*) OVER () AS total FROM oauth_application WHERE user_id = %s"
        " ORDER BY creation_date DESC, id DESC LIMIT %s OFFSET %s",
        (user_id, limit, offset),
    )
    rows = txn.fetchall()
    if rows:
        return rows[0]["total"], rows
    txn.execute("SELECT count(*) AS total FROM oauth_application WHERE user_id = %s", (user_id,))
    return txn.fetchone()["total"], []


def update_application_txn(txn: Any, client_id: str, user_id: int, fields: dict[str, str]) -> dict[str, Any] | None:
    """Change name / redirect_uris / scope (those present in `fields`) of an application `user_id` owns."""
    txn.execute(
        "UPDATE oauth_application SET name = COALESCE(%s, name), redirect_uris = COALESCE(%s, redirect_uris),"
        " scope = COALESCE(%s, scope), modification_date = now()"
        f" WHERE client_id = %s AND user_id = %s RETURNING {_APP_COLUMNS}",
        (fields.get("name"), fields.get("redirect_uris"), fields.get("scope"), client_id, user_id),
    )
    return txn.fetchone()


def delete_application_txn(txn: Any, client_id: str, user_id: int) -> bool:
    """Delete an application `user_id` owns, with its grants and tokens (cascade)."""
    txn.execute("DELETE FROM oauth_application WHERE client_id = %s AND user_id = %s", (client_id, user_id))
    return txn.rowcount == 1


def set_application_token_txn(txn: Any, client_id: str, user_id: int, token_hash: str) -> dict[str, Any] | None:
    """Replace the personal token of an application `user_id` owns; the application with its secret hash."""
    txn.execute(
        "UPDATE oauth_application SET token_hash = %s, modification_date = now()"
        f" WHERE client_id = %s AND user_id = %s RETURNING {_APP_COLUMNS}, client_secret_hash",
        (token_hash, client_id, user_id),
    )
    return txn.fetchone()


def insert_grant_txn(
    txn: Any,
    application_id: int,
    user_id: int,
    code_hash: str,
    redirect_uri: str,
    scope: str,
    code_challenge: str,
    code_challenge_method: str,
    lifetime: int,
) -> None:
    txn.execute(
        "INSERT INTO oauth_grant (code_hash, application_id, user_id, redirect_uri, scope, code_challenge,"
        " code_challenge_method, expires) VALUES (%s, %s, %s, %s, %s, %s, %s, now() + make_interval(secs => %s))",
        (
            code_hash,
            application_id,
            user_id,
            redirect_uri,
            scope,
            code_challenge,
            code_challenge_method,
            lifetime,
        ),
    )


def live_grant_for_update_txn(txn: Any, application_id: int, code_hash: str) -> dict[str, Any] | None:
    """The unexpired grant of this code for this application, locked until the transaction ends."""
    txn.execute(
        "SELECT id, user_id, redirect_uri, scope, code_challenge, code_challenge_method FROM oauth_grant"
        " WHERE code_hash = %s AND application_id = %s AND expires > now() FOR UPDATE",
        (code_hash, application_id),
    )
    return txn.fetchone()


def delete_grant_txn(txn: Any, grant_id: int) -> None:
    txn.execute("DELETE FROM oauth_grant WHERE id = %s", (grant_id,))


def insert_tokens_txn(
    txn: Any,
    application_id: int,
    user_id: int,
    scopes: tuple[str, str],
    access_hash: str,
    refresh_hash: str,
    lifetime: int,
) -> None:
    """An access token living `lifetime` seconds and the refresh token that can replace it, with their
    scopes (access, refresh): a refresh may narrow the access token while the refresh token keeps its own."""
    access_scope, refresh_scope = scopes
    txn.execute(
        "WITH access AS (INSERT INTO oauth_access_token (token_hash, application_id, user_id, scope, expires)"
        " VALUES (%s, %s, %s, %s, now() + make_interval(secs => %s)) RETURNING id)"
        " INSERT INTO oauth_refresh_token (token_hash, application_id, user_id, access_token_id, scope)"
        " SELECT %s, %s, %s, access.id, %s FROM access",
        (
            access_hash,
            application_id,
            user_id,
            access_scope,
            lifetime,
            refresh_hash,
            application_id,
            user_id,
            refresh_scope,
        ),
    )


def live_refresh_token_for_update_txn(
    txn: Any, application_id: int, token_hash: str, max_age: int
) -> dict[str, Any] | None:
    """The unrevoked refresh token of this application issued less than `max_age` seconds ago, locked."""
    txn.execute(
        "SELECT id, user_id, access_token_id, scope FROM oauth_refresh_token"
        " WHERE token_hash = %s AND application_id = %s AND revoked IS NULL"
        " AND creation_date > now() - make_interval(secs => %s) FOR UPDATE",
        (token_hash, application_id, max_age),
    )
    return txn.fetchone()


def revoke_refresh_token_txn(txn: Any, refresh_id: int) -> None:
    """Revoke a refresh token and delete the access token issued with it."""
    txn.execute(
        "DELETE FROM oauth_access_token WHERE id = (SELECT access_token_id FROM oauth_refresh_token WHERE id = %s)",
        (refresh_id,),
    )
    txn.execute("UPDATE oauth_refresh_token SET revoked = now() WHERE id = %s", (refresh_id,))


def revoke_token_txn(txn: Any, application_id: int, token_hash: str) -> bool:
    """Revoke the access or refresh token with this hash, if this application holds it (RFC 7009)."""
    txn.execute(
        "DELETE FROM oauth_access_token WHERE token_hash = %s AND application_id = %s",
        (token_hash, application_id),
    )
    if txn.rowcount:
        return True
    txn.execute(
        "SELECT id FROM oauth_refresh_token WHERE token_hash = %s AND application_id = %s AND revoked IS NULL",
        (token_hash, application_id),
    )
    row = txn.fetchone()
    if row is None:
        return False
    revoke_refresh_token_txn(txn, row["id"])
    return True


_GRANTED_APPLICATION_IDS = """
    SELECT application_id FROM oauth_access_token WHERE user_id = %(user)s AND expires > now()
    UNION SELECT application_id FROM oauth_refresh_token
        WHERE user_id = %(user)s AND revoked IS NULL AND creation_date > now() - make_interval(secs => %(age)s)
    UNION SELECT application_id FROM oauth_grant WHERE user_id = %(user)s AND expires > now()
"""


def granted_applications_txn(txn: Any, user_id: int, refresh_max_age: int) -> list[dict[str, Any]]:
    """The applications holding a live grant or token of `user_id`, newest first."""
    txn.execute(
        f"SELECT {_APP_COLUMNS} FROM oauth_application WHERE id IN ({_GRANTED_APPLICATION_IDS})"
        " ORDER BY creation_date DESC, id DESC",
        {"user": user_id, "age": refresh_max_age},
    )
    return txn.fetchall()


def revoke_user_grants_txn(txn: Any, user_id: int, client_id: str) -> int:
    """Delete every grant, access and refresh token `user_id` gave the application; how many there were."""
    params = {"user": user_id, "client": client_id}
    app = "(SELECT id FROM oauth_application WHERE client_id = %(client)s)"
    total = 0
    for table in ("oauth_refresh_token", "oauth_access_token", "oauth_grant"):
        txn.execute(f"DELETE FROM {table} WHERE user_id = %(user)s AND application_id = {app}", params)
        total += txn.rowcount
    return total


def clear_expired_txn(txn: Any, refresh_max_age: int) -> int:
    """Delete expired grants and access tokens, and revoked or too old refresh tokens; how many."""
    total = 0
    for statement in (
        "DELETE FROM oauth_grant WHERE expires <= now()",
        "DELETE FROM oauth_refresh_token"
        " WHERE revoked IS NOT NULL OR creation_date <= now() - make_interval(secs => %(age)s)",
        "DELETE FROM oauth_access_token WHERE expires <= now()",
    ):
        txn.execute(statement, {"age": refresh_max_age})
        total += txn.rowcount
    return total


def principal_for_bearer_txn(txn: Any, token_hash: str) -> Principal | None:
    """Who an `Authorization: Bearer` token speaks for: an unexpired OAuth access token (its scopes, within
    what its application may still ask for), or a personal application token (the application's scopes)."""
    txn.execute(
        "SELECT u.*, t.scope AS token_scope, a.scope AS app_scope, t.application_id AS token_application_id,"
        " t.expires AS token_expires"
        " FROM oauth_access_token t JOIN users u ON u.id = t.user_id"
        " JOIN oauth_application a ON a.id = t.application_id"
        " WHERE t.token_hash = %(token)s AND t.expires > now()"
        " UNION ALL"
        " SELECT u.*, a.scope, a.scope, a.id, NULL FROM oauth_application a JOIN users u ON u.id = a.user_id"
        " WHERE a.token_hash = %(token)s"
        " LIMIT 1",
        {"token": token_hash},
    )
    row = txn.fetchone()
    if row is None:
        return None
    return Principal(
        user=User.from_row(row),
        scopes=expand(row["token_scope"].split()) & expand(row["app_scope"].split()),
        via_session=False,
        application_id=row["token_application_id"],
        expires=row["token_expires"],
    )
