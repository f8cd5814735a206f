"""Per-code, per-staff and per-store counts of what people did through our codes.

Everything is one SQL aggregation over qr_event (who is credited with what: bot/qr/attribution.py):
- scans: follows through a code plus scans while following (QrEvent.scanned)
- unique scanners: distinct fans among those scans
- new follows / re-follows: follow and refollow events (a plain re-follow of an attributed fan
  is its code's; a re-follow through another code is that code's)
- unfollows: of the fans attributed to the code
- net follows: new follows + re-follows − unfollows
- members: fans of the code who became members (once per fan)
A staff member's or store's figures are those of their codes (QrCode.staff_id / store_id).
Periods are China dates, both ends included (Asia/Shanghai, bot/clock.py's CST).
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from bot.clock import CST
from bot.phones import mask_phone
from models import QrCode, QrEvent, Staff, Store
from models.qr import CONVERTED, FOLLOW, REFOLLOW, UNFOLLOW

GROUPINGS = ("code", "staff", "store")
_KEY = {"code": QrEvent.code_id, "staff": QrCode.staff_id, "store": QrCode.store_id}


@dataclass(frozen=True)
class Counts:
    scans: int = 0
    unique: int = 0
    follows: int = 0
    refollows: int = 0
    unfollows: int = 0
    members: int = 0

    @property
    def net(self) -> int:
        return self.follows + self.refollows - self.unfollows


@dataclass
class Line:
    """One row of a report: a code, staff member or store (key None: none of ours)."""
    key: int | None
    name: str            # scene, store code or masked phone; "-" for none
    label: str           # what a person reads: the code's label, the store's or staff's name
    counts: Counts
    channel: str = ""    # codes only
    staff: str = ""      # codes only: the staff member's name


@dataclass
class Report:
    lines: list[Line] = field(default_factory=list)
    total: Counts = field(default_factory=Counts)


def day_start(day: date) -> datetime:
    """UTC instant at which China date `day` begins."""
    return datetime.combine(day, time(), CST).astimezone(timezone.utc)


def bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """[start, end) in UTC of the China dates since..until, both included; None: open."""
    return (day_start(since) if since else None, day_start(until + timedelta(days=1)) if until else None)


def china_today(now: datetime) -> date:
    return now.astimezone(CST).date()


def _measures():
    kind = QrEvent.kind
    return (func.sum(case((QrEvent.scanned, 1), else_=0)),
            func.count(distinct(case((QrEvent.scanned, QrEvent.fan_id)))),
            func.sum(case((kind == FOLLOW, 1), else_=0)),
            func.sum(case((kind == REFOLLOW, 1), else_=0)),
            func.sum(case((kind == UNFOLLOW, 1), else_=0)),
            func.sum(case((kind == CONVERTED, 1), else_=0)))


def _scoped(query, account_id, store_id, staff_id, start, end):
    query = query.select_from(QrEvent).outerjoin(QrCode, QrCode.id == QrEvent.code_id)
    if account_id is not None:
        query = query.where(QrEvent.account_id == account_id)
    if store_id is not None:
        query = query.where(QrCode.store_id == store_id)
    if staff_id is not None:
        query = query.where(QrCode.staff_id == staff_id)
    if start is not None:
        query = query.where(QrEvent.at >= start)
    if end is not None:
        query = query.where(QrEvent.at < end)
    return query


def _counts(values) -> Counts:
    return Counts(*(int(v or 0) for v in values))


def report(db: Session, account_id: int | None, *, by: str = "code", store_id: int | None = None,
           staff_id: int | None = None, start: datetime | None = None, end: datetime | None = None) -> Report:
    """The counts per code (or staff, or store) with any activity in [start, end), best net
    follows first, and the totals (unique scanners counted once over all rows). Without a store
    or staff filter, a line with key None holds what came through no code of ours (plain
    follows, other systems' scenes); with one, only that store's or staff member's codes count."""
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {GROUPINGS}")
    key = _KEY[by]
    rows = db.execute(_scoped(select(key, *_measures()), account_id, store_id, staff_id, start, end)
                      .group_by(key)).all()
    total = db.execute(_scoped(select(*_measures()), account_id, store_id, staff_id, start, end)).one()
    names = _names(db, by, [row[0] for row in rows if row[0] is not None])
    lines = []
    for key, *values in rows:
        name, label, channel, staff = names.get(key, _NONE[by])
        lines.append(Line(key, name, label, _counts(values), channel, staff))
    lines.sort(key=lambda ln: (ln.key is None, -ln.counts.net, -ln.counts.scans, ln.key or 0))
    return Report(lines, _counts(total))


# What a key of None means in each grouping (name, label, channel, staff).
_NONE = {"code": ("-", "(no code of ours: plain follows, other scenes)", "", ""),
         "staff": ("-", "(no staff member: plain follows, other scenes, codes of no one)", "", ""),
         "store": ("-", "(no store: plain follows, other scenes, codes of no store)", "", "")}


def _names(db: Session, by: str, ids: list[int]) -> dict[int, tuple]:
    """key -> (name, label, channel, staff name) for the keys of a report."""
    if not ids:
        return {}
    if by == "store":
        return {s.id: (s.code, s.name, "", "") for s in db.scalars(select(Store).where(Store.id.in_(ids)))}
    if by == "staff":
        return {s.id: (mask_phone(s.phone), s.name, "", s.name)
                for s in db.scalars(select(Staff).where(Staff.id.in_(ids)))}
    rows = db.execute(select(QrCode.id, QrCode.scene, QrCode.label, QrCode.channel, Staff.name)
                      .outerjoin(Staff, Staff.id == QrCode.staff_id).where(QrCode.id.in_(ids))).all()
    return {r.id: (r.scene or str(r.id), r.label or r.scene or "", r.channel or "", r.name or "") for r in rows}


@dataclass(frozen=True)
class Day:
    day: date
    follows: int
    refollows: int
    unfollows: int


def daily(db: Session, days: list[date], *, store_id: int, account_id: int | None = None) -> list[Day]:
    """Follows, re-follows and unfollows credited to the store's codes on each China date of
    `days` (consecutive, oldest first), one GROUP BY over a CASE that maps an instant to its day."""
    if not days:
        return []
    ends = [day_start(d + timedelta(days=1)) for d in days]
    # Labelled, so GROUP BY names it: PostgreSQL would not match the CASE's bound parameters twice.
    index = case(*[(QrEvent.at < end, i) for i, end in enumerate(ends)], else_=len(days)).label("day_index")
    kind = QrEvent.kind
    query = _scoped(select(index, func.sum(case((kind == FOLLOW, 1), else_=0)),
                           func.sum(case((kind == REFOLLOW, 1), else_=0)),
                           func.sum(case((kind == UNFOLLOW, 1), else_=0))),
                    account_id, store_id, None, day_start(days[0]), ends[-1])
    found = {row[0]: row[1:] for row in db.execute(query.group_by(index)).all()}
    return [Day(d, *(int(v or 0) for v in found.get(i, (0, 0, 0)))) for i, d in enumerate(days)]
