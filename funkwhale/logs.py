"""Logging through twisted.logger: text or JSON lines on stdout, filtered by level; stdlib logging bridged."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    jsonFileLogObserver,
    textFileLogObserver,
)


def make_observer(log_format: str, level: str, stream: TextIO | None = None) -> ILogObserver:
    stream = stream or sys.stdout
    out = jsonFileLogObserver(stream) if log_format == "json" else textFileLogObserver(stream)
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    return FilteringLogObserver(out, [predicate])


def observer() -> ILogObserver:
    """For `twistd --logger=funkwhale.logs.observer`: reads FUNKWHALE_LOG_FORMAT / FUNKWHALE_LOG_LEVEL."""
    from funkwhale.config import load_settings

    settings = load_settings()
    return make_observer(settings.log_format, settings.log_level)


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
