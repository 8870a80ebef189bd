"""Catalog rows inserted straight into the database (listeners with actors and sessions, libraries, artists,
albums, tracks, uploads, tags), for browse and search tests that must not depend on the import pipeline."""

from __future__ import annotations

import uuid
from http.cookiejar import Cookie
from typing import Any

from funkwhale.music.normalize import fold

from .client import ApiClient
from .factories import insert_session, insert_user

DOMAIN = "test.funkwhale.local"
BASE = f"http://{DOMAIN}"


def _insert(conn: Any, table: str, values: dict[str, Any]) -> dict[str, Any]:
    cols = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks}) RETURNING *", list(values.values()))
        return cur.fetchone()


def insert_listener(conn: Any, username: str) -> dict[str, Any]:
    """A user with a local actor and a Subsonic API token (`<username>-subsonic`); returns the user row (with
    actor_id and subsonic_api_token)."""
    with conn.cursor() as cur:
        cur.execute("INSERT INTO domain (name) VALUES (%s) ON CONFLICT DO NOTHING", (DOMAIN,))
    actor = _insert(
        conn,
        "actor",
        {"fid": f"{BASE}/federation/actors/{username}", "preferred_username": username, "domain": DOMAIN},
    )
    user = insert_user(conn, username, actor_id=actor["id"])
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE users SET subsonic_api_token = %s WHERE id = %s RETURNING *", (f"{username}-subsonic", user["id"])
        )
        return cur.fetchone()


def insert_library(conn: Any, owner: dict[str, Any], privacy_level: str = "me", name: str = "lib") -> dict[str, Any]:
    fid = f"{BASE}/federation/music/libraries/{uuid.uuid4()}"
    return _insert(
        conn, "library", {"fid": fid, "actor_id": owner["actor_id"], "name": name, "privacy_level": privacy_level}
    )


def insert_artist(conn: Any, name: str, **fields: Any) -> dict[str, Any]:
    values = {"fid": f"{BASE}/federation/music/artists/{uuid.uuid4()}", "name": name, "name_key": fold(name)}
    return _insert(conn, "artist", {**values, **fields})


def insert_album(conn: Any, artist: dict[str, Any], title: str, **fields: Any) -> dict[str, Any]:
    values = {
        "fid": f"{BASE}/federation/music/albums/{uuid.uuid4()}",
        "title": title,
        "title_key": fold(title),
        "artist_id": artist["id"],
    }
    return _insert(conn, "album", {**values, **fields})


def insert_track(
    conn: Any, artist: dict[str, Any], title: str, album: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    values = {
        "fid": f"{BASE}/federation/music/tracks/{uuid.uuid4()}",
        "title": title,
        "title_key": fold(title),
        "artist_id": artist["id"],
        "album_id": album["id"] if album else None,
    }
    return _insert(conn, "track", {**values, **fields})


def insert_upload(
    conn: Any, library: dict[str, Any], track: dict[str, Any] | None, import_status: str = "finished", **fields: Any
) -> dict[str, Any]:
    values = {
        "fid": f"{BASE}/federation/music/uploads/{uuid.uuid4()}",
        "library_id": library["id"],
        "track_id": track["id"] if track else None,
        "import_status": import_status,
        "mimetype": "audio/mpeg",
        "size": 123456,
        "duration": 180,
        "bitrate": 128000,
        "audio_file": f"tracks/{uuid.uuid4().hex}.mp3",
    }
    return _insert(conn, "upload", {**values, **fields})


def playable_track(
    conn: Any,
    library: dict[str, Any],
    artist: dict[str, Any],
    title: str,
    album: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A track with one finished upload in `library`."""
    track = insert_track(conn, artist, title, album, **fields)
    insert_upload(conn, library, track)
    return track


def tag(conn: Any, kind: str, obj: dict[str, Any], name: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO tag (name) VALUES (%s) ON CONFLICT (lower(name)) DO UPDATE SET name = tag.name RETURNING id",
            (name,),
        )
        tag_id = cur.fetchone()["id"]
        cur.execute(
            "INSERT INTO tagged_item (tag_id, object_type, object_id) VALUES (%s, %s, %s)", (tag_id, kind, obj["id"])
        )


# The session's Redis (set by conftest's `servers`): a preference written behind the server's back must make its
# cached copy stale, as the admin API does.
REDIS_URL = ""


def set_preference(conn: Any, identifier: str, value: Any) -> None:
    from psycopg2.extras import Json

    from funkwhale import cache

    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO instance_setting (name, value) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            (identifier, Json(value)),
        )
    _invalidate(cache.PREFS)


def catalog_changed() -> None:
    """Rows inserted behind the server's back: make what it cached of the catalog stale."""
    from funkwhale import cache

    _invalidate(cache.CATALOG)


def auth_changed() -> None:
    """An account or credential changed behind the server's back (permissions, scopes by SQL): make what it
    cached of credentials stale, as an administrator would (`INCR fw:cache:gen:auth`)."""
    from funkwhale.users import auth_cache

    _invalidate(auth_cache.AUTH)


def _invalidate(scope: str) -> None:
    """INCR the generation, as `cache.invalidate` does, and wait until Redis has sent its announcement to the
    servers' cache mirrors (funkwhale.cache_mirror): a request right after must not find a copy still taken for
    good (Redis may answer the INCR just before it writes the announcement to the other connections)."""
    import redis

    client = redis.Redis(unix_socket_path=REDIS_URL.removeprefix("unix://"))
    key = f"fw:cache:gen:{scope}"
    announced = "K" in client.config_get("notify-keyspace-events").get("notify-keyspace-events", "")
    watch = client.pubsub()
    try:
        if announced:
            watch.subscribe(f"__keyspace@0__:{key}")
            watch.get_message(timeout=5)  # the subscription's confirmation
        client.incr(key)
        if announced:
            watch.get_message(timeout=5)  # the announcement, written to every listener in the same pass
    finally:
        watch.close()
        client.close()


def _cookie(name: str, value: str) -> Cookie:
    return Cookie(0, name, value, None, False, "127.0.0.1", False, False, "/", True, False, None, True, None, None, {})


def listener_client(server: Any, conn: Any, user: dict[str, Any]) -> ApiClient:
    """A client with a session of `user` (sessionid + csrftoken cookies)."""
    key, csrf = insert_session(conn, user["id"])
    client = server.client()
    client.jar.set_cookie(_cookie("sessionid", key))
    client.jar.set_cookie(_cookie("csrftoken", csrf))
    return client
