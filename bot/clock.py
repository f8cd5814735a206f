"""The one clock, and China's days. Handlers, jobs and the sandbox read time through the clock,
so tests can freeze it; dates people read (birthdays, caps, reports) are China dates."""
from datetime import date, datetime, time, timedelta, timezone

# China Standard Time: UTC+8 all year (no daylight time).
CST = timezone(timedelta(hours=8), "CST")


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


def period_bounds(period: str, at: datetime) -> tuple[datetime, datetime] | None:
    """[start, end) in UTC of the CST day/week/month/year holding `at`; None for "ever"."""
    local = at.astimezone(CST).date()
    if period == "day":
        start, end = local, local + timedelta(days=1)
    elif period == "week":                         # Monday to Sunday
        start = local - timedelta(days=local.weekday())
        end = start + timedelta(days=7)
    elif period == "month":
        start = local.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    elif period == "year":
        start, end = local.replace(month=1, day=1), local.replace(year=local.year + 1, month=1, day=1)
    else:
        return None
    return day_start(start), day_start(end)


def day_start(day: date) -> datetime:
    """The UTC instant the China day `day` begins."""
    return datetime.combine(day, time(), CST).astimezone(timezone.utc)


def add_months(at: datetime, months: int) -> datetime:
    local = at.astimezone(CST)
    month0 = local.month - 1 + months
    year, month = local.year + month0 // 12, month0 % 12 + 1
    day = min(local.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
                          31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
    return local.replace(year=year, month=month, day=day).astimezone(timezone.utc)
