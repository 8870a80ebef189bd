"""`album_play`, each listener's plays per album kept by the database (migration 0015): it always equals their
listenings counted by album, whatever writes them: scrobbles one by one or in a batch, a track moved to another
album or removed from any, a deleted track, album or user."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from . import catalog_factories as cf

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _run(conn, sql, *params):
    with conn.cursor() as cur:
        cur.execute(sql, params)


def _kept(conn) -> set[tuple]:
    with conn.cursor() as cur:
        cur.execute("SELECT user_id, album_id, plays, last_played FROM album_play")
        return {tuple(r.values()) for r in cur.fetchall()}


def _counted(conn) -> set[tuple]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT l.user_id, t.album_id, count(*), max(l.creation_date) FROM listening l"
            " JOIN track t ON t.id = l.track_id WHERE t.album_id IS NOT NULL GROUP BY 1, 2"
        )
        return {tuple(r.values()) for r in cur.fetchall()}


def _listen(conn, user, track, *days):
    for day in days:
        _run(
            conn,
            "INSERT INTO listening (user_id, track_id, creation_date) VALUES (%s, %s, %s)",
            user["id"], track["id"], NOW + timedelta(days=day),
        )  # fmt: skip


def test_album_plays_follow_every_change_of_the_history_and_the_catalog(db_conn, alice, bob):
    artist = cf.insert_artist(db_conn, "Moss")
    one, two = cf.insert_album(db_conn, artist, "One"), cf.insert_album(db_conn, artist, "Two")
    a, b, c = (cf.insert_track(db_conn, artist, title, album) for title, album in (("a", one), ("b", one), ("c", two)))
    _listen(db_conn, alice, a, 1, 2)
    _listen(db_conn, alice, b, 5)
    _listen(db_conn, bob, c, 3)
    expected = {
        (alice["id"], one["id"], 3, NOW + timedelta(days=5)),
        (bob["id"], two["id"], 1, NOW + timedelta(days=3)),
    }
    assert _kept(db_conn) == _counted(db_conn) == expected
    # a batch: several listeners and albums in one statement
    _run(
        db_conn,
        "INSERT INTO listening (user_id, track_id, creation_date)"
        " SELECT u, t, %s FROM unnest(%s::bigint[]) u, unnest(%s::bigint[]) t",
        NOW + timedelta(days=9), [alice["id"], bob["id"]], [a["id"], c["id"]],
    )  # fmt: skip
    assert _kept(db_conn) == _counted(db_conn)
    assert (alice["id"], two["id"], 1, NOW + timedelta(days=9)) in _kept(db_conn)
    _run(db_conn, "UPDATE track SET album_id = %s WHERE id = %s", two["id"], b["id"])  # moved
    assert _kept(db_conn) == _counted(db_conn)
    _run(db_conn, "UPDATE track SET album_id = NULL WHERE id = %s", c["id"])  # out of any album
    assert _kept(db_conn) == _counted(db_conn)
    _run(db_conn, "UPDATE track SET title = 'a again' WHERE id = %s", a["id"])  # not a move: nothing to count
    assert _kept(db_conn) == _counted(db_conn)
    _run(db_conn, "DELETE FROM track WHERE id = %s", b["id"])  # its listenings go with it
    assert _kept(db_conn) == _counted(db_conn)
    assert {row[1] for row in _kept(db_conn) if row[0] == alice["id"]} == {one["id"]}
    _run(db_conn, "DELETE FROM album WHERE id = %s", one["id"])
    assert _kept(db_conn) == _counted(db_conn)
    _run(db_conn, "UPDATE track SET album_id = %s WHERE id = %s", two["id"], c["id"])
    assert _kept(db_conn) == _counted(db_conn) != set()
    _run(db_conn, "DELETE FROM users WHERE id = %s", bob["id"])
    assert _kept(db_conn) == _counted(db_conn)
    assert {row[0] for row in _kept(db_conn)} <= {alice["id"]}
