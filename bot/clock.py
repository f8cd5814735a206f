"""The one clock. Handlers, jobs and the sandbox read time through it, so tests can freeze it."""
from datetime import datetime, timedelta, timezone


class Clock:
    """Wall-clock time, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def timestamp(self) -> float:
        return self.now().timestamp()


class FrozenClock(Clock):
    """A clock that moves only when told to (tests, demos)."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta) -> datetime:
        self._now += timedelta(**delta)
        return self._now
