"""Logging through twisted.logger: text or JSON lines on stdout, filtered by level; stdlib logging bridged;
one structured access-log event per HTTP request."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import unquote_to_bytes

from twisted.logger import (
    FileLogObserver,
    FilteringLogObserver,
    ILogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    formatEvent,
    formatEventAsClassicLogText,
    formatTime,
)

from funkwhale.config import Settings
from funkwhale.web.client_address import client_address

# Keys of legacy (twisted.python.log) events that are bookkeeping, not fields.
_LEGACY_KEYS = frozenset(("message", "format", "time", "system", "isError", "why", "failure"))

# Query parameters that carry secrets: Subsonic passwords/tokens (p, t, s, apiKey), listen tokens, OAuth values.
_SECRET_PARAMS = frozenset(
    ("p", "t", "s", "token", "password", "access_token", "refresh_token", "code", "apikey", "client_secret")
)
# Twisted splits a query string on both "&" and ";" (twisted.web.http.parse_qs): so does the redaction.
_QUERY_ITEM = re.compile(r"[^&;]*")

access_log = Logger(namespace="funkwhale.access")


def _message(event: dict[str, Any]) -> str:
    """The event's text, as twisted.logger's formatEvent writes it. A format without calls (`{name()}`, which
    only Twisted's formatter runs) is filled in by str.format_map, at a fifth of the cost: every request's
    access-log event goes through here."""
    text = event.get("log_format")
    if type(text) is str and "(" not in text and "log_flattened" not in event:
        try:
            return text.format_map(event)
        except Exception:  # what Twisted's formatter does with an event it cannot format: its own fallback text
            pass
    return formatEvent(event)


class _SecondStamps:
    """The RFC 3339 local time of a log time, as twisted.logger's formatTime writes it, computed once a second."""

    second: int | None = None
    text = ""

    def __call__(self, when: float | None) -> str:
        if when is None:
            return formatTime(when)
        second = int(when)
        if second != self.second:
            self.second, self.text = second, formatTime(second)
        return self.text


def _text_format() -> Callable[[dict[str, Any]], str | None]:
    """twistd's text line of an event ("{time} [{namespace}#{level}] {message}"), as textFileLogObserver writes
    it; an event with a traceback goes through Twisted's own formatter."""
    stamp = _SecondStamps()

    def text_line(event: dict[str, Any]) -> str | None:
        if "log_failure" in event:
            return formatEventAsClassicLogText(event, formatTime=stamp)
        message = _message(event)
        if not message:
            return None
        system = event.get("log_system")
        if system is None:
            level = event.get("log_level")
            system = f"{event.get('log_namespace', '-')}#{level.name if level is not None else '-'}"
        line = f"{stamp(event.get('log_time'))} [{system}] {message}"
        return line.replace("\n", "\n\t") + "\n"

    return text_line


def json_line(event: dict[str, Any]) -> str:
    """One event as one JSON object: time, level, namespace, message, then the event's own fields."""
    record: dict[str, Any] = {
        "time": datetime.fromtimestamp(event.get("log_time", 0), UTC).isoformat(timespec="milliseconds"),
        "level": event["log_level"].name if event.get("log_level") else "info",
        "namespace": event.get("log_namespace", "-"),
        "message": _message(event),
    }
    for key, value in event.items():
        if not key.startswith("log_") and key not in _LEGACY_KEYS and key not in record:
            record[key] = value
    failure = event.get("log_failure")
    if failure is not None:
        record["error"] = failure.getErrorMessage()
        record["traceback"] = failure.getTraceback()
    return json.dumps(record, default=str, ensure_ascii=False) + "\n"


def make_observer(log_format: str, level: str, stream: TextIO | None = None) -> ILogObserver:
    """Text (twistd's usual lines) or JSON lines on `stream` (stdout), dropping events below `level`."""
    stream = stream or sys.stdout
    out = FileLogObserver(stream, json_line if log_format == "json" else _text_format())
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    return FilteringLogObserver(out, [predicate])


def observer() -> ILogObserver:
    """For `twistd --logger=funkwhale.logs.observer`: reads FUNKWHALE_LOG_FORMAT / FUNKWHALE_LOG_LEVEL."""
    from funkwhale.config import load_settings

    settings = load_settings()
    return make_observer(settings.log_format, settings.log_level)


def _redact_item(match: re.Match[str]) -> str:
    """One `key=value` item of a query string, its value masked when the key (decoded as Twisted decodes it:
    "+" is a space, %XX escapes) names a secret."""
    key, eq, _ = match.group().partition("=")
    name = unquote_to_bytes(key.replace("+", " ")).decode("latin-1").lower()
    return f"{key}=***" if eq and name in _SECRET_PARAMS else match.group()


def redact(uri: str) -> str:
    """The request URI with the values of secret-bearing query parameters replaced by ***: every item that
    `request.args` would hold, whatever separator ("&" or ";") or escaping its key came with."""
    path, sep, query = uri.partition("?")
    if not sep:
        return uri
    return path + "?" + _QUERY_ITEM.sub(_redact_item, query)


def log_access(request: Any, duration: float | None, settings: Settings) -> None:
    """The access-log event of a finished request (secrets in the query string redacted), with the client
    address the rate limits also use."""
    access_log.info(
        '{client} "{method} {uri}" {status} {size} {duration_ms} ms',
        client=client_address(request, settings),
        method=request.method.decode("latin-1"),
        uri=redact(request.uri.decode("latin-1")),
        status=request.code,
        size=request.sentLength,
        duration_ms=round(duration * 1000, 1) if duration is not None else "-",
        user_agent=(request.getHeader(b"user-agent") or b"").decode("latin-1"),
    )


class _StdlibBridge(logging.Handler):
    """Forwards stdlib records (alembic, pgserver) into twisted.logger under the record's name."""

    _levels = {
        logging.DEBUG: LogLevel.debug,
        logging.INFO: LogLevel.info,
        logging.WARNING: LogLevel.warn,
        logging.ERROR: LogLevel.error,
        logging.CRITICAL: LogLevel.critical,
    }

    def emit(self, record: logging.LogRecord) -> None:
        level = self._levels.get(record.levelno, LogLevel.info)
        Logger(namespace=record.name).emit(level, "{message}", message=record.getMessage())


def bridge_stdlib() -> None:
    """Send stdlib logging (alembic, pgserver) at WARNING and above into twisted.logger."""
    root = logging.getLogger()
    if not any(isinstance(h, _StdlibBridge) for h in root.handlers):
        root.addHandler(_StdlibBridge())
        root.setLevel(logging.WARNING)
