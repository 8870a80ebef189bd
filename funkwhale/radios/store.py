"""The radios' SQL: pools of tracks as one WHERE condition over `t`, the next-track draw, radios and sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from psycopg2.extras import Json

from funkwhale.db.params import PositionalParams
from funkwhale.music.catalog.store import Filters, Listing, page_txn
from funkwhale.music.catalog.store import detail_txn as track_detail_txn
from funkwhale.music.sql import Fragments, order_by
from funkwhale.music.visibility import Viewer, library_condition
from funkwhale.radios import FILTERS, RadioError

RADIO_COLUMNS = (
    f"r.id, r.name, r.description, r.is_public, r.config, r.creation_date, {Fragments.user_json('r.user_id')} AS user"
)


def _uuids(values: list[str], field: str) -> list[str]:
    try:
        return [str(uuid.UUID(v)) for v in values]
    except ValueError:
        raise RadioError("Not a valid library UUID.", field=field) from None


# -- pools -------------------------------------------------------------------------------------------------------


def _filter_condition(sql: Fragments, f: dict[str, Any]) -> str:
    """SQL true for a track `t` that one filter (tag / artist / library) names."""
    kind = f["type"]
    values = f[FILTERS[kind][0]]
    if kind == "tag":
        cond = sql.track_tagged(f"SELECT id FROM tag WHERE lower(name) = ANY({sql.bind([v.lower() for v in values])})")
    elif kind == "artist":
        ids = sql.bind(values)
        cond = (
            f"(t.artist_id = ANY({ids}) OR EXISTS (SELECT 1 FROM album fa WHERE fa.id = t.album_id"
            f" AND fa.artist_id = ANY({ids})))"
        )
    else:
        cond = sql.track_playable("t.id", f" AND pl.uuid = ANY({sql.bind(values)}::uuid[])")
    return f"NOT {cond}" if f.get("not") else cond


def _pool(sql: Fragments, viewer: Viewer, session: dict[str, Any]) -> tuple[str, str, str]:
    """(FROM: the tracks `t` and what the order joins, condition on `t`, ORDER BY of the draw: lowest weight first
    where there is one, else at random) of a session's pool: playable tracks whose artists the listener did not
    hide."""
    kind, related = session["radio_type"], session["related_object_id"]
    source, order = "track t", "random()"
    if kind == "favorites":
        cond = (
            "EXISTS (SELECT 1 FROM track_favorite tf WHERE tf.track_id = t.id"
            f" AND tf.user_id = {sql.bind(viewer.user_id)})"
        )
    elif kind == "less-listened":  # the listener's counts per track joined (their history read once, by index)
        cond = "true"
        source += (
            " LEFT JOIN (SELECT li.track_id, count(*) AS n FROM listening li"
            f" WHERE li.user_id = {sql.bind(viewer.user_id)} GROUP BY li.track_id) li ON li.track_id = t.id"
        )
        order = "coalesce(li.n, 0), random()"
    elif kind == "tag":
        cond = _filter_condition(sql, {"type": "tag", "names": [related]})
    elif kind == "artist":
        cond = _filter_condition(sql, {"type": "artist", "ids": [int(related)]})
    elif kind == "library":
        cond = _filter_condition(sql, {"type": "library", "uuids": [related]})
    elif kind == "custom":
        cond = " AND ".join([_filter_condition(sql, f) for f in session["config"]] or ["true"])
    else:
        cond = "true"
    return source, f"({cond}) AND {sql.track_playable('t.id')} AND {sql.track_not_filtered('t')}", order


def check_related_txn(txn: Any, viewer: Viewer, kind: str, values: list[Any], field: str) -> list[Any]:
    """`values` (tag names, artist ids or library uuids) if each names something the viewer may use, else 400."""
    if kind == "tag":
        txn.execute("SELECT count(*) AS n FROM tag WHERE lower(name) = ANY(%s)", ([v.lower() for v in values],))
    elif kind == "artist":
        txn.execute("SELECT count(*) AS n FROM artist WHERE id = ANY(%s)", (values,))
    else:
        values = _uuids(values, field)
        params = PositionalParams()
        txn.execute(
            f"SELECT count(*) AS n FROM library l WHERE l.uuid = ANY({params.bind(values)}::uuid[])"
            f" AND {library_condition(params, viewer, 'l')}",
            params.params,
        )
    if txn.fetchone()["n"] != len(set(values)):
        raise RadioError(f"No {kind} matches {', '.join(map(str, values))}.", field=field)
    return values


def check_config_txn(txn: Any, viewer: Viewer, config: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The custom radio filters, each naming only things that exist (else 400)."""
    for f in config:
        key = FILTERS[f["type"]][0]
        f[key] = check_related_txn(txn, viewer, f["type"], f[key], "config")
        if f["type"] == "artist":  # Funkwhale keeps the artists' names in the filter, for display
            txn.execute("SELECT id, name FROM artist WHERE id = ANY(%s)", (f["ids"],))
            names = {row["id"]: row["name"] for row in txn.fetchall()}
            f["names"] = [names[i] for i in f["ids"]]
    return config


# -- sessions ----------------------------------------------------------------------------------------------------

SESSION_COLUMNS = (
    "id, radio_type, related_object_id, user_id AS user, creation_date, custom_radio_id AS custom_radio, config"
)


def create_session_txn(txn: Any, viewer: Viewer, fields: dict[str, Any]) -> dict[str, Any]:
    """A new session of the viewer's (the type and related object checked by the caller's `check_*`)."""
    config = None
    if fields["radio_type"] == "custom":
        radio = radio_txn(txn, viewer, fields["custom_radio"])
        if radio is None:
            raise RadioError("No such radio.", field="custom_radio")
        config = radio["config"]
    txn.execute(
        "INSERT INTO radio_session (user_id, radio_type, custom_radio_id, related_object_id, config)"
        f" VALUES (%s, %s, %s, %s, %s) RETURNING {SESSION_COLUMNS}",
        (
            viewer.user_id,
            fields["radio_type"],
            fields.get("custom_radio"),
            fields.get("related_object_id"),
            Json(config) if config is not None else None,
        ),
    )
    return txn.fetchone()


def session_txn(txn: Any, viewer: Viewer, session_id: int) -> dict[str, Any] | None:
    """One of the viewer's sessions."""
    txn.execute(
        f"SELECT {SESSION_COLUMNS} FROM radio_session WHERE id = %s AND user_id = %s", (session_id, viewer.user_id)
    )
    return txn.fetchone()


def next_tracks_txn(txn: Any, viewer: Viewer, session_id: int, count: int) -> list[dict[str, Any]]:
    """Up to `count` next tracks of the session (as next_track_txn), at least one (else its 404)."""
    drawn = [next_track_txn(txn, viewer, session_id)]
    try:
        while len(drawn) < count:
            drawn.append(next_track_txn(txn, viewer, session_id))
    except RadioError:  # the pool ran out after the first: answer what was drawn
        pass
    return drawn


def next_track_txn(txn: Any, viewer: Viewer, session_id: int) -> dict[str, Any]:
    """Draw the session's next track (never one it already played), record it, return {id, session_id,
    position, track row}."""
    txn.execute(
        "SELECT radio_type, related_object_id, config FROM radio_session WHERE id = %s AND user_id = %s FOR UPDATE",
        (session_id, viewer.user_id),
    )
    session = txn.fetchone()
    if session is None:
        raise RadioError("No such radio session.", status=404)
    sql = Fragments(viewer)
    source, cond, order = _pool(sql, viewer, session)
    sid = sql.bind(session_id)
    # The pool minus what the session played; among the lowest weights, one at random. LIMIT 1 makes this a
    # single pass keeping the best row so far (a top-1 heap), not a sort of the pool.
    txn.execute(
        f"WITH picked AS (SELECT t.id FROM {source} WHERE {cond}"
        f" AND NOT EXISTS (SELECT 1 FROM radio_session_track st WHERE st.session_id = {sid} AND st.track_id = t.id)"
        f" ORDER BY {order} LIMIT 1)"
        " INSERT INTO radio_session_track (session_id, track_id, position)"
        f" SELECT {sid}, picked.id, (SELECT coalesce(max(position), 0) + 1 FROM radio_session_track"
        f" WHERE session_id = {sid}) FROM picked RETURNING id, session_id, track_id, position",
        sql.params,
    )
    drawn = txn.fetchone()
    if drawn is None:
        raise RadioError("No more tracks in this radio.", status=404)
    return {**drawn, "track": track_detail_txn(txn, "track", viewer, drawn["track_id"])}


# -- user radios -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RadioListing:
    """One list of radios: only the viewer's (`mine`) or theirs and the public ones; name lookups as django-filter
    spells them (`q` and `icontains`: a substring, `iexact`, `startswith`, `exact`); ordering; a page window."""

    viewer: Viewer
    mine: bool = False
    name_lookups: tuple[tuple[str, str], ...] = ()
    ordering: tuple[str, ...] = ()
    limit: int = 50
    offset: int = 0


RADIO_ORDERINGS = {"name": "lower(r.name)", "creation_date": "r.creation_date", "id": "r.id"}
_RADIO_NAME = {
    "exact": "r.name = %s",
    "iexact": "lower(r.name) = lower(%s)",
    "icontains": "strpos(lower(r.name), lower(%s)) > 0",
    "startswith": "starts_with(r.name, %s)",
}


def list_radios_txn(txn: Any, listing: RadioListing) -> tuple[int, list[dict[str, Any]]]:
    """(total, page) of the radios the listing asks for, newest first unless ordered."""
    where = "r.user_id = %s" if listing.mine else "(r.is_public OR r.user_id = %s)"
    params: list[Any] = [listing.viewer.user_id]
    for lookup, value in listing.name_lookups:
        where += f" AND {_RADIO_NAME[lookup]}"
        params.append(value)
    order = order_by(RADIO_ORDERINGS, listing.ordering, ("-creation_date",), "r.id")
    txn.execute(f"SELECT count(*) AS n FROM radio r WHERE {where}", params)
    total = txn.fetchone()["n"]
    txn.execute(
        f"SELECT {RADIO_COLUMNS} FROM radio r WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s",
        [*params, listing.limit, listing.offset],
    )
    return total, txn.fetchall()


def radio_txn(txn: Any, viewer: Viewer, radio_id: int, own: bool = False) -> dict[str, Any] | None:
    """A radio the viewer may use (theirs or public); with `own`, only theirs."""
    txn.execute(
        f"SELECT {RADIO_COLUMNS}, r.user_id FROM radio r"
        " WHERE r.id = %s AND (r.user_id = %s OR (r.is_public AND NOT %s))",
        (radio_id, viewer.user_id, own),
    )
    return txn.fetchone()


def save_radio_txn(txn: Any, viewer: Viewer, radio_id: int | None, fields: dict[str, Any]) -> dict[str, Any]:
    """Create (radio_id None) or update one of the viewer's radios; `config` is checked against the database."""
    if "config" in fields:
        fields["config"] = Json(check_config_txn(txn, viewer, fields["config"]))
    if radio_id is None:
        names = list(fields)
        txn.execute(
            f"INSERT INTO radio (user_id, {', '.join(names)}) VALUES (%s{', %s' * len(names)}) RETURNING id",
            (viewer.user_id, *fields.values()),
        )
        radio_id = txn.fetchone()["id"]
    elif fields:
        sets = ", ".join(f"{name} = %s" for name in fields)
        txn.execute(
            f"UPDATE radio SET {sets} WHERE id = %s AND user_id = %s RETURNING id",
            (*fields.values(), radio_id, viewer.user_id),
        )
        if txn.fetchone() is None:
            raise RadioError("No such radio.", status=404)
    radio = radio_txn(txn, viewer, radio_id, own=True)
    if radio is None:
        raise RadioError("No such radio.", status=404)
    return radio


def filter_candidates_txn(txn: Any, viewer: Viewer, config: list[dict[str, Any]], sample: int) -> dict[str, Any]:
    """What one custom radio filter (`config`: it alone, checked for shape) selects, as 1.4's `validate/` shows it:
    {count, sample (up to `sample` track rows)}; RadioError when it names what does not exist."""
    total, rows = config_tracks_txn(txn, viewer, check_config_txn(txn, viewer, config), sample, 0)
    return {"count": total, "sample": rows}


def delete_radio_txn(txn: Any, viewer: Viewer, radio_id: int) -> None:
    txn.execute("DELETE FROM radio WHERE id = %s AND user_id = %s RETURNING id", (radio_id, viewer.user_id))
    if txn.fetchone() is None:
        raise RadioError("No such radio.", status=404)


def radio_tracks_txn(
    txn: Any, viewer: Viewer, radio_id: int, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]] | None:
    """(total, page of track rows) a radio would play, in id order, else None when the viewer may not use it."""
    radio = radio_txn(txn, viewer, radio_id)
    if radio is None:
        return None
    return config_tracks_txn(txn, viewer, radio["config"], limit, offset)


def config_tracks_txn(
    txn: Any, viewer: Viewer, config: list[dict[str, Any]], limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """(total, page of track rows) that custom radio filters (`config`, checked) select, in id order."""
    sql = Fragments(viewer)
    source, cond, _ = _pool(sql, viewer, {"radio_type": "custom", "related_object_id": None, "config": config})
    txn.execute(f"SELECT t.id FROM {source} WHERE {cond} ORDER BY t.id", sql.params)
    ids = [r["id"] for r in txn.fetchall()]
    page = ids[offset : offset + limit]
    if not page:
        return len(ids), []
    rows = page_txn(txn, "track", Listing(viewer, Filters(ids=tuple(page)), limit=len(page)))
    return len(ids), sorted(rows, key=lambda r: page.index(r["id"]))
