"""Log output: JSON lines with fields, level filtering, stdlib bridged, secrets kept out of the access log."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest_twisted
from twisted.logger import Logger, LogPublisher, globalLogPublisher, textFileLogObserver

from funkwhale.logs import _StdlibBridge, make_observer, redact

from .conftest import start_server


def _capture(log_format: str, level: str) -> tuple[Logger, io.StringIO]:
    out = io.StringIO()
    publisher = LogPublisher(make_observer(log_format, level, out))
    return Logger(namespace="funkwhale.test", observer=publisher), out


def test_json_lines_carry_message_level_and_fields():
    log, out = _capture("json", "info")
    log.info("upload {upload_id} imported in {ms} ms", upload_id=42, ms=12.5)
    line = out.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    event = json.loads(line)
    assert event["message"] == "upload 42 imported in 12.5 ms"
    assert event["level"] == "info" and event["namespace"] == "funkwhale.test"
    assert event["upload_id"] == 42 and event["ms"] == 12.5
    assert not [key for key in event if key.startswith("log_")]


def test_json_failure_has_the_traceback():
    log, out = _capture("json", "info")
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        log.failure("task {task} failed", task="music.process_upload")
    event = json.loads(out.getvalue())
    assert event["level"] == "critical" and event["task"] == "music.process_upload"
    assert "ZeroDivisionError" in event["traceback"]


def test_level_filter_drops_lower_levels():
    log, out = _capture("text", "warn")
    log.info("chatty {n}", n=1)
    log.warn("disk {pct}% full", pct=95)
    text = out.getvalue()
    assert "chatty" not in text
    assert "disk 95% full" in text and "[funkwhale.test#warn]" in text


def test_text_lines_are_twistds():
    """The text observer writes what twistd's own would (it only formats faster), tracebacks and all."""
    twistd_out, ours_out = io.StringIO(), io.StringIO()
    publisher = LogPublisher(textFileLogObserver(twistd_out), make_observer("text", "debug", ours_out))
    log = Logger(namespace="funkwhale.test", observer=publisher)
    log.info('{client} "{method} {uri}" {status} {ms} ms', client="::1", method="GET", uri="/a?b=c", status=200, ms=1.5)
    log.warn("two\nlines {n!r} {n:>4}", n=7)
    log.info("a {missing} field")
    log.info("a call: {value.bit_length()}", value=255)
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        log.failure("task {task} failed", task="t")
    assert ours_out.getvalue() == twistd_out.getvalue()
    assert '[funkwhale.test#info] ::1 "GET /a?b=c" 200 1.5 ms\n' in ours_out.getvalue()
    assert "\tbuiltins.ZeroDivisionError: division by zero" in ours_out.getvalue()


def test_stdlib_records_arrive_under_their_logger_name():
    out = io.StringIO()
    observer = make_observer("json", "info", out)
    record = logging.LogRecord("alembic.runtime", logging.WARNING, __file__, 1, "no %s", ("tables",), None)
    globalLogPublisher.addObserver(observer)
    try:
        _StdlibBridge().emit(record)
    finally:
        globalLogPublisher.removeObserver(observer)
    event = json.loads(out.getvalue().splitlines()[-1])
    assert event["namespace"] == "alembic.runtime" and event["message"] == "no tables" and event["level"] == "warn"


def test_redact_hides_subsonic_passwords_and_tokens():
    assert redact("/rest/ping.view?u=alice&p=enc:616263&v=1.16.1&c=DSub") == (
        "/rest/ping.view?u=alice&p=***&v=1.16.1&c=DSub"
    )
    assert redact("/api/v1/listen/abc/?token=xyz&to=mp3") == "/api/v1/listen/abc/?token=***&to=mp3"
    assert redact("/api/v1/tracks/") == "/api/v1/tracks/"
    # Twisted also splits on ";" and decodes the keys: whatever request.args holds is masked
    assert redact("/rest/ping.view?u=a;t=abc;s=salt&%61piKey=k&c=x") == (
        "/rest/ping.view?u=a;t=***;s=***&%61piKey=***&c=x"
    )


@contextlib.contextmanager
def access_events() -> Iterator[list[dict]]:
    """The access-log events published while the block runs."""
    events: list[dict] = []

    def keep(event: dict) -> None:
        if event.get("log_namespace") == "funkwhale.access":
            events.append(event)

    globalLogPublisher.addObserver(keep)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(keep)


@pytest_twisted.ensureDeferred
async def test_each_request_gets_one_access_event_with_fields(client):
    with access_events() as events:
        resp = await client.get("/api/v1/health/?t=secret-token")
    assert resp.code == 200
    assert len(events) == 1
    event = events[0]
    assert event["method"] == "GET" and event["status"] == 200
    assert event["uri"] == "/api/v1/health/?t=***"
    assert event["size"] == len(resp.body)
    assert isinstance(event["duration_ms"], float)


@pytest_twisted.ensureDeferred
async def test_a_token_after_a_semicolon_is_redacted_in_the_access_log(client):
    with access_events() as events:
        await client.get(f"/api/v1/listen/{uuid.uuid4()}/?a=1;token=SECRET-LISTEN-TOKEN")
    assert len(events) == 1
    assert "SECRET" not in events[0]["uri"] and events[0]["uri"].endswith("?a=1;token=***"), events[0]["uri"]


@pytest_twisted.ensureDeferred
async def test_the_access_log_names_the_client_as_the_rate_limits_do(settings):
    """One function decides the client address: the peer, or behind the proxy the address the proxy saw."""
    headers = {"X-Real-IP": "198.51.100.9", "X-Forwarded-For": "10.0.0.1, 198.51.100.9"}
    direct = await start_server(settings)
    proxied = await start_server(dataclasses.replace(settings, reverse_proxy="nginx"))
    try:
        with access_events() as events:
            for running in (direct, proxied):
                client = running.client()
                await client.get("/api/v1/health/", headers=headers)
                ident = (await client.get("/api/v1/rate-limit/", headers=headers)).json["ident"]
                assert events[-1]["client"] == ident["id"]
    finally:
        await direct.service.stopService()
        await proxied.service.stopService()
    assert [e["client"] for e in events] == ["127.0.0.1", "127.0.0.1", "198.51.100.9", "198.51.100.9"]
