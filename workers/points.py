"""Scheduled points work: birthdays, maturing pending points, expiry, expiry reminders, level
recalculation, lifecycle stages.

Each job is safe to run twice and at any hour: a birthday award's key carries the year, a
matured credit is no longer waiting, an expired lot has nothing left to expire, a reminded lot is marked, a level that is right stays.
They run from rq's cron scheduler (workers/schedule.py) or by hand: `flask points run-daily`.
Work is done member by member, each in its own transaction, so one bad member never holds
back the others and a long run never holds a lock on many rows.
"""
import logging
from datetime import timedelta

from sqlalchemy import extract, select

from bot.clock import CST
from bot.points import pending, stages
from bot.points.engine import expire_due, fire
from bot.points.ledger import Book
from bot.points.levels import RECALCULATION, settle_level
from bot.points.notify import tell_members
from bot.points.policy import Policy
from models import Member, PendingCredit, PointsLot
from models.points import WAITING
from workers.runtime import job_scope

log = logging.getLogger(__name__)
BATCH = 500


def _members(query) -> list[int]:
    with job_scope() as job:
        return list(job.db.scalars(query))


def _each(member_ids: list[int], work) -> int:
    """Run `work(book, member)` for each member in its own transaction; how many succeeded."""
    done = 0
    for member_id in member_ids:
        try:
            with job_scope() as job:
                book = Book(job.db, job.now)
                work(book, book.lock(member_id))
                tell_members(book, job)
            done += 1
        except Exception:
            log.exception("points job failed for member %s", member_id)
    return done


def award_birthdays() -> int:
    """Pays the birthday rule to members whose birthday is today (China time), once a year;
    29 February birthdays are celebrated on 28 February in other years."""
    with job_scope() as job:
        today = job.now.astimezone(CST).date()
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not _leap(today.year):
        days.append((2, 29))
    ids: list[int] = []
    for month, day in days:
        ids += _members(select(Member.id).where(extract("month", Member.birthday) == month,
                                                extract("day", Member.birthday) == day))
    return _each(ids, lambda book, member: fire(book, member.id, "birthday", "birthday", today.year))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def mature_pending() -> int:
    """Pays every pending credit whose day has come (China time), member by member, once each;
    how many members."""
    with job_scope() as job:
        now = job.now
    ids = _members(select(PendingCredit.member_id).distinct().where(PendingCredit.state == WAITING,
                                                                  PendingCredit.matures_at <= now))
    return _each(ids, pending.mature_due)


def expire_points() -> int:
    """Expires every lot whose time has come, member by member; how many members."""
    with job_scope() as job:
        now = job.now
    ids = _members(select(PointsLot.member_id).distinct().where(PointsLot.remaining > 0,
                                                              PointsLot.expires_at <= now))
    return _each(ids, expire_due)


def remind_expiring() -> int:
    """Tells members about points expiring within the policy's reminder days, once per lot."""
    with job_scope() as job:
        now = job.now
        days = Book(job.db, now).policy.remind_days
    horizon = now + timedelta(days=days)
    open_lots = (PointsLot.remaining > 0, PointsLot.expires_at > now, PointsLot.expires_at <= horizon,
                 PointsLot.reminded_at.is_(None))
    ids = _members(select(PointsLot.member_id).distinct().where(*open_lots))

    def remind(book: Book, member: Member) -> None:
        lots = list(book.db.scalars(select(PointsLot).where(PointsLot.member_id == member.id, *open_lots)
                                    .order_by(PointsLot.expires_at)))
        if not lots:
            return
        for lot in lots:
            lot.reminded_at = book.now
        total = sum(lot.remaining for lot in lots)
        first, last = (Policy.last_day(lots[i].expires_at) for i in (0, -1))
        book.tell(member, f"您有 {total} 积分有效期至 {first:%Y-%m-%d}，请尽快使用。" if first == last
                  else f"您有 {total} 积分将在 {first:%Y-%m-%d} 至 {last:%Y-%m-%d} 陆续到期，请尽快使用。")
    return _each(ids, remind)


def recalculate_levels() -> int:
    """Puts every member on the level their qualifying growth gives (downgrades included)."""
    ids = _members(select(Member.id).order_by(Member.id))
    return _each(ids, lambda book, member: settle_level(book, member, RECALCULATION))


def compute_stages() -> int:
    """Puts every member in their lifecycle stage (bot/points/stages.py), a batch of members per
    transaction; how many changed stage."""
    changed, after = 0, 0
    while True:
        with job_scope() as job:
            ids = list(job.db.scalars(select(Member.id).where(Member.id > after)
                                      .order_by(Member.id).limit(BATCH)))
            if not ids:
                return changed
            changed += stages.settle(job.db, Book(job.db, job.now).policy, ids, job.now)
        after = ids[-1]


def daily() -> dict:
    """All of the above, in order: what the cron scheduler and `points run-daily` call."""
    return {"birthdays": award_birthdays(), "matured": mature_pending(), "expired": expire_points(),
            "reminded": remind_expiring(), "levels": recalculate_levels(), "stages": compute_stages()}
