"""Planning and execution time of the catalog and Subsonic statements, plain and prepared, on 20,000 tracks.

Seeds bench/browse.py's library and its users' history (`--no-history`: the library alone) into a fresh embedded
PostgreSQL, then for each statement of each case: its plain
planning and execution time (EXPLAIN ANALYZE, as the code ran it before funkwhale/db/prepared.py), and the same
once prepared on one connection and executed as often as the daemon would (PostgreSQL chooses between the custom
and the generic plan from the 6th execution on): planning (the plan cache's lookup when the generic plan is
kept), execution, which plan it kept, and the wall time of the whole statement through psycopg2 both ways.
Run: .venv/bin/python bench/plans.py [--no-history] [a case's name: only the cases whose name holds it]
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from browse import seed

from funkwhale.db import prepared, schema
from funkwhale.db.pool import connect
from funkwhale.embedded import EmbeddedServers
from funkwhale.music.catalog import store
from funkwhale.music.visibility import Viewer
from funkwhale.radios import store as radios
from funkwhale.social import store as social
from funkwhale.subsonic import store as subsonic

RUNS = 9  # executions per measure; the prepared ones are measured from the 10th execution of the statement
L, F = store.Listing, store.Filters
CASES: list[tuple[str, Callable[[Any, Viewer], Any]]] = [
    ("tracks p1", lambda c, v: store.page_txn(c, "track", L(v))),
    ("tracks p1 artist=", lambda c, v: store.page_txn(c, "track", L(v, F(artist=5)))),
    ("tracks p1 q=", lambda c, v: store.page_txn(c, "track", L(v, F(q="kalo")))),
    ("tracks p10 -date", lambda c, v: store.page_txn(c, "track", L(v, ordering=("-creation_date",), offset=450))),
    ("tracks @19000", lambda c, v: store.page_txn(c, "track", L(v, offset=19000))),
    ("albums p1", lambda c, v: store.page_txn(c, "album", L(v))),
    ("albums p1 artist=", lambda c, v: store.page_txn(c, "album", L(v, F(artist=5)))),
    ("albums @1950 title", lambda c, v: store.page_txn(c, "album", L(v, ordering=("title",), offset=1950))),
    ("artists p1", lambda c, v: store.page_txn(c, "artist", L(v))),
    ("artists p5 name", lambda c, v: store.page_txn(c, "artist", L(v, ordering=("name",), offset=200))),
    ("count tracks", lambda c, v: store.count_txn(c, "track", v, F())),
    ("count tracks q=", lambda c, v: store.count_txn(c, "track", v, F(q="kalo"))),
    ("count albums", lambda c, v: store.count_txn(c, "album", v, F())),
    ("track detail", lambda c, v: store.detail_txn(c, "track", v, 123)),
    ("search", lambda c, v: store.search_txn(c, v, "metalica", 10, "metalica")),
    ("getAlbumList2 p1", lambda c, v: subsonic.album_list_txn(c, v, subsonic.AlbumList("alphabeticalByName", 50))),
    (
        "getAlbumList2 @1900",
        lambda c, v: subsonic.album_list_txn(c, v, subsonic.AlbumList("alphabeticalByName", 50, 1900)),
    ),
    ("getAlbum", lambda c, v: subsonic.album_txn(c, v, 77)),
    ("search3 q", lambda c, v: subsonic.search_txn(c, v, subsonic.Search("kalo"))),
    (
        "search3 sync @19500",
        lambda c, v: subsonic.search_txn(c, v, subsonic.Search('""', (0, 0), (0, 0), (500, 19500))),
    ),
    # what reads the user's history
    ("tracks -listen_count", lambda c, v: store.page_txn(c, "track", L(v, ordering=("-listen_count",)))),
    ("albums -listen_count", lambda c, v: store.page_txn(c, "album", L(v, ordering=("-listen_count",)))),
    ("tracks favorites", lambda c, v: store.page_txn(c, "track", L(v, F(favorites=True)))),
    ("listenings p1", lambda c, v: social.list_txn(c, "listenings", social.Listing(v))),
    ("listenings p100", lambda c, v: social.list_txn(c, "listenings", social.Listing(v, offset=4950))),
    ("favorites p1", lambda c, v: social.list_txn(c, "favorites", social.Listing(v))),
    (
        "activity listenings",
        lambda c, v: social.list_txn(c, "listenings", social.Listing(v, mine=False, limit=20, counted=False)),
    ),
    ("getAlbumList2 frequent", lambda c, v: subsonic.album_list_txn(c, v, subsonic.AlbumList("frequent", 50))),
    ("getAlbumList2 recent", lambda c, v: subsonic.album_list_txn(c, v, subsonic.AlbumList("recent", 50))),
    ("getAlbumList2 starred", lambda c, v: subsonic.album_list_txn(c, v, subsonic.AlbumList("starred", 50))),
    ("getAlbumList2 highest", lambda c, v: subsonic.album_list_txn(c, v, subsonic.AlbumList("highest", 50))),
    ("getStarred2", subsonic.starred_txn),
    ("getTopSongs", lambda c, v: subsonic.top_songs_txn(c, v, "Metallica", 50)),
    ("radio less-listened", lambda c, v: radios.next_track_txn(c, v, RADIO_SESSION)),
]
RADIO_SESSION = 1  # the bench user's less-listened radio session, made by main()


class Recorder:
    """A cursor that records what is executed on it: (statement, params, the SET LOCALs in force, with the daemon's
    `plan_cache_mode` for a statement it runs on its generic plan)."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.settings: list[str] = []
        self.statements: list[tuple[str, Any, list[str]]] = []

    def execute(self, statement: str, params: Any = None, generic: bool = False, settings: Any = ()) -> None:
        if statement.startswith("SET LOCAL"):
            self.settings.append(statement)
        elif statement.startswith("RESET"):
            self.settings.clear()
        else:
            forced = prepared.set_locally(settings)
            forced += ["SET LOCAL plan_cache_mode = force_generic_plan"] if generic else []
            self.statements.append((statement, params, self.settings + forced))
            statement = "; ".join([*forced, statement])
        self.cursor.execute(statement, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cursor, name)


@contextmanager
def plain() -> Iterator[None]:
    """Statements run as they are (as before funkwhale/db/prepared.py), on a Recorder."""
    real = prepared.execute
    prepared.execute = lambda cursor, statement, params=None, generic=False, settings=(): cursor.execute(
        statement, params, generic, settings
    )
    try:
        yield
    finally:
        prepared.execute = real


def explain(cur: Any, text: str, params: Any) -> tuple[float, float]:
    """(planning ms, execution ms) of `text`."""
    cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + text, params)
    plan = next(iter(cur.fetchone().values()))[0]
    return plan["Planning Time"], plan["Execution Time"]


def measure(conn: Any, statement: str, params: Any, settings: list[str]) -> str:
    """One line: plain planning/execution/wall ms, then prepared planning/execution/wall ms and the plan kept."""
    cur = conn.cursor()

    def runs(fn: Callable[[], Any]) -> list[Any]:
        out = []
        for _ in range(RUNS):
            for setting in settings:
                cur.execute(setting)
            out.append(fn())
            conn.rollback()
        return out

    def wall(fn: Callable[[], Any]) -> Callable[[], float]:
        def timed() -> float:
            t0 = time.perf_counter()
            fn()
            cur.fetchall()
            return (time.perf_counter() - t0) * 1000

        return timed

    median = statistics.median
    plain_times = runs(lambda: explain(cur, statement, params))
    plain_wall = runs(wall(lambda: cur.execute(statement, params)))
    prepared_wall = runs(wall(lambda: prepared.execute(cur, statement, params)))  # prepared, up to 9 executions
    converted = prepared.convert(statement)
    prepared_times = runs(lambda: explain(cur, converted.execute, params))
    cur.execute("SELECT generic_plans FROM pg_prepared_statements WHERE name = %s", (converted.name,))
    kept = "generic" if cur.fetchone()["generic_plans"] else "custom"
    conn.rollback()
    figures = [
        median(t[0] for t in plain_times),
        median(t[1] for t in plain_times),
        median(plain_wall),
        median(t[0] for t in prepared_times),
        median(t[1] for t in prepared_times),
        median(prepared_wall[6:]),
    ]
    return "{:7.2f} {:7.2f} {:7.2f} | {:7.2f} {:7.2f} {:7.2f} {}".format(*figures, kept)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="fw-bench-plans-"))
    embedded = EmbeddedServers(str(root), postgres=True, redis=False)
    try:
        embedded.start()
        dsn = str(embedded.database_url)
        schema.upgrade(dsn)
        seed(dsn, "--no-history" not in sys.argv[1:])
        wanted = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
        conn = connect(dsn)
        with conn.cursor() as cur:
            cur.execute("SELECT id, actor_id FROM users WHERE username = 'bench'")
            row = cur.fetchone()
            viewer = Viewer(user_id=row["id"], actor_id=row["actor_id"])
            global RADIO_SESSION
            RADIO_SESSION = radios.create_session_txn(cur, viewer, {"radio_type": "less-listened"})["id"]
        conn.commit()
        print(f"{'case':<22} {'#':>2} | {'plain: plan    exec    wall':>27} | {'prepared: plan    exec    wall':>30}")
        for name, run in CASES:
            if wanted and not any(part in name for part in wanted):
                continue
            recorder = Recorder(conn.cursor())
            with plain():
                run(recorder, viewer)
            conn.rollback()
            for i, (statement, params, settings) in enumerate(recorder.statements):
                print(f"{name:<22} {i:>2} | {measure(conn, statement, params, settings)}", flush=True)
        conn.close()
        print(
            "ms, medians; plan/exec from EXPLAIN ANALYZE (prepared: of the EXECUTE, from its 10th run), wall through"
            " psycopg2 (prepared: from the 7th execution on), and the plan PostgreSQL kept for the prepared statement"
        )
    finally:
        embedded.stop(only_started_here=False)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
