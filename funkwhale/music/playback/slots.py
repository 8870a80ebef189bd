"""How many live ffmpeg transcodes run at once: at most FUNKWHALE_TRANSCODE_MAX_PER_USER per listener and
FUNKWHALE_TRANSCODE_MAX_TOTAL in the process. A request beyond either cap is refused (TranscodesBusy) rather than
queued, so one listener cannot start dozens of ffmpeg processes. Counts are per web process."""

from __future__ import annotations

from collections import Counter
from types import TracebackType

from funkwhale.config import Settings

# Seconds a refused client is told to wait (Retry-After).
RETRY_AFTER = 5


class TranscodesBusy(Exception):
    """The listener, or the whole process, already runs as many transcodes as allowed."""


class Slot:
    """One running transcode; release() (or leaving its `with` block) frees it, once."""

    def __init__(self, slots: TranscodeSlots, listener: str) -> None:
        self._slots = slots
        self._listener = listener
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots._release(self._listener)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


class TranscodeSlots:
    """The transcodes running now, by listener (`user:<id>`, or `ip:<address>` for an anonymous one)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> TranscodeSlots:
        return cls(settings.transcode_max_per_user, settings.transcode_max_total)

    def __init__(self, per_listener: int, total: int) -> None:
        self.per_listener = per_listener
        self.total = total
        self.running: Counter[str] = Counter()
        self.started = 0  # transcodes started since the process began (metrics)

    def acquire(self, listener: str) -> Slot:
        """A slot for one more transcode of `listener`; TranscodesBusy when a cap is reached."""
        if self.running[listener] >= self.per_listener or self.running.total() >= self.total:
            raise TranscodesBusy(listener)
        self.running[listener] += 1
        self.started += 1
        return Slot(self, listener)

    def _release(self, listener: str) -> None:
        self.running[listener] -= 1
        if self.running[listener] <= 0:
            del self.running[listener]

