"""Points and growth that wait for a date before they count (a rule's `pending:`).

An award whose rule waits is decided at once (frequency, groups, caps all count it) but pays
into a PendingCredit instead of the ledger: no entry, no lot, no balance, so it can neither be
spent nor expire. The maturing job (workers/points.py) pays it on its day, once: the credit is
read again under the member's lock, and only a WAITING one pays. A reversal (a refund, a larger
award of its group) before then cancels what it reverses from the credit; the balance never
moved. After maturing the award reverses through the ledger as any other.
"""
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select

from bot.clock import CST
from bot.points.caps import NOTE
from bot.points.levels import RISE, settle_level
from bot.points.policy import Rule
from models import Award, PendingCredit, PointsRule
from models.points import CANCELLED, EARN, GROWTH, MATURED, POINTS, WAITING

UNIT = {POINTS: "积分", GROWTH: "成长值"}


def matures_at(when: dict | None, at: datetime, trip_end: date | None) -> datetime | None:
    """The start (China time) of the day the credit matures; None when it pays at once.
    `{days: N}`: N days after the event's day; `{until: trip_end}`: the day after the trip
    ends (an order without a trip end has nothing to wait for)."""
    if when is None:
        return None
    if "days" in when:
        day = at.astimezone(CST).date() + timedelta(days=when["days"])
    elif trip_end is not None:
        day = trip_end + timedelta(days=1)
    else:
        return None
    return datetime.combine(day, time(), CST).astimezone(timezone.utc)


def due_day_of(matures: datetime) -> date:
    return matures.astimezone(CST).date()


def when_text(day: date) -> str:
    return f"{day.month} 月 {day.day} 日"


def hold(book, member, award: Award, ledger: str, amount: int, matures: datetime) -> PendingCredit:
    credit = PendingCredit(award_id=award.id, member_id=member.id, ledger=ledger, amount=amount,
                           cancelled=0, matures_at=matures, state=WAITING, created_at=book.now)
    book.db.add(credit)
    book.db.flush()
    book.held.append(credit)
    return credit


def waiting(book, award: Award) -> dict[str, PendingCredit]:
    return {c.ledger: c for c in book.db.scalars(select(PendingCredit).where(
        PendingCredit.award_id == award.id, PendingCredit.state == WAITING)
        .execution_options(populate_existing=True))}


def cancel(book, member, award: Award, points: int, growth: int, reason: str) -> tuple[int, int]:
    """Cancel up to (points, growth) of the award's waiting credits; what is left to reverse
    through the ledger (the caller holds the member's lock and has bounded both amounts)."""
    credits = waiting(book, award)
    left = {POINTS: points, GROWTH: growth}
    cancelled = {POINTS: 0, GROWTH: 0}
    for ledger, credit in credits.items():
        cut = min(left[ledger], credit.amount - credit.cancelled)
        if cut <= 0:
            continue
        credit.cancelled += cut
        left[ledger] -= cut
        cancelled[ledger] = cut
        if credit.cancelled == credit.amount:
            credit.state, credit.settled_at = CANCELLED, book.now
    award.points_reversed += cancelled[POINTS]
    award.growth_reversed += cancelled[GROWTH]
    book.note_cancelled(award, cancelled[POINTS], cancelled[GROWTH])
    parts = [f"{n} {UNIT[ledger]}" for ledger, n in cancelled.items() if n]
    if parts:
        book.tell(member, f"{reason}：待生效的 {'、'.join(parts)}已取消。当前积分 {member.points}。")
    return left[POINTS], left[GROWTH]


def award_title(rule: Rule, award: Award) -> str:
    """The rule's title, with what the caps cut (the member's history says so)."""
    notes = [NOTE[POINTS].format(award.points)] if award.points < award.computed_points else []
    notes += [NOTE[GROWTH].format(award.growth)] if award.growth < award.computed_growth else []
    return f"{rule.title}（{'，'.join(notes)}）" if notes else rule.title


def has_due(db, member_id: int, now: datetime) -> bool:
    """Whether any of the member's credits have reached their day (a read, no lock)."""
    return db.scalar(select(PendingCredit.id).where(PendingCredit.member_id == member_id,
                                                    PendingCredit.state == WAITING,
                                                    PendingCredit.matures_at <= now).limit(1)) is not None


def mature_due(book, member) -> int:
    """Pay the member's credits whose day has come (the caller holds the member's lock): each
    WAITING credit once, in day order. How many credits paid."""
    credits = list(book.db.scalars(select(PendingCredit).where(
        PendingCredit.member_id == member.id, PendingCredit.state == WAITING,
        PendingCredit.matures_at <= book.now).order_by(PendingCredit.matures_at, PendingCredit.id)
        .execution_options(populate_existing=True)))
    paid = {POINTS: 0, GROWTH: 0}
    for credit in credits:
        award = book.db.get(Award, credit.award_id)
        row = book.db.get(PointsRule, award.rule_id)
        rule = Rule(row.id, row.version, row.spec)
        amount = credit.amount - credit.cancelled
        credit.state, credit.settled_at = MATURED, book.now
        book.post(member, credit.ledger, amount, EARN, f"{award.key}:{credit.ledger}",
                  f"{award_title(rule, award)}（到账）", (award.source_type, award.source_id),
                  rule=rule, award=award)
        paid[credit.ledger] += amount
    if paid[GROWTH]:
        settle_level(book, member, RISE)
    parts = [f"{n} {UNIT[ledger]}" for ledger, n in paid.items() if n]
    if parts:
        book.tell(member, f"待生效的 {'、'.join(parts)}已到账。当前积分 {member.points}。")
    return len(credits)


def upcoming(db, member_id: int, limit: int = 3) -> list[tuple[str, int, date]]:
    """(ledger, amount, day) of the member's waiting credits, soonest first, summed per day."""
    rows = db.execute(select(PendingCredit.ledger, PendingCredit.amount - PendingCredit.cancelled,
                             PendingCredit.matures_at)
                      .where(PendingCredit.member_id == member_id, PendingCredit.state == WAITING)
                      .order_by(PendingCredit.matures_at).limit(50)).all()
    sums: dict[tuple[str, date], int] = {}
    for ledger, amount, at in rows:
        key = (ledger, at.astimezone(CST).date())
        sums[key] = sums.get(key, 0) + amount
    ordered = sorted(sums.items(), key=lambda item: (item[0][1], item[0][0] != POINTS))
    return [(ledger, amount, day) for (ledger, day), amount in ordered[:limit]]
