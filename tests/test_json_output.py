"""The JSON writer (funkwhale.web.json.dumps): orjson's bytes, equal to what the standard module writes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone

from funkwhale.web.json import dumps


def _standard(value: object) -> bytes:
    def default(v: object) -> str:
        return v.isoformat() if hasattr(v, "isoformat") else str(v)

    return json.dumps(value, default=default, ensure_ascii=False, separators=(",", ":")).encode()


def test_dates_uuids_and_text_are_written_as_the_standard_module_writes_them() -> None:
    value = {
        "at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "fraction": datetime(2024, 1, 2, 3, 4, 5, 120, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        "naive": datetime(2024, 1, 2, 3, 4, 5),
        "day": date(2024, 2, 29),
        "clock": time(3, 4, 5, 6),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "text": "Björk </script> \u2028",
        "nested": [{"n": 1, "none": None, "flag": True, "x": 1.5}],
    }
    assert dumps(value) == _standard(value)


def test_what_orjson_refuses_is_written_by_the_standard_module() -> None:
    for value in ({"big": 2**70}, {"clock": time(3, 4, 5, tzinfo=UTC)}):
        assert dumps(value) == _standard(value)
