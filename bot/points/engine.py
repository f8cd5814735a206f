"""Awarding, reversing, spending, adjusting and expiring points: the decisions, in one place.

An award is one (rule, business event, member) and happens once: its key is unique, whatever
the rule's version, so a retried push, a re-imported file or a second worker finds the award
already made. In order, for each rule in force for the trigger and active at the event's time:
    1. the rule's frequency for this member (once, N per day/week/month/year);
    2. its exclusive group: within the group's window only the largest award stands; a larger
       one reverses the smaller in the same transaction;
    3. the caps (points and growth per day and month, the member's and the rule's: caps.py);
    4. the ledger entries (or pending credits, for a rule that waits: pending.py), the level,
       and what to tell the member.
"""
from datetime import date, datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import make_transient_to_detached

from bot.clock import CST
from bot.points import pending
from bot.points.caps import within_caps
from bot.points.checks import look
from bot.points.ledger import Book
from bot.points.levels import REVERSAL, RISE, foreseen_rise, settle_level
from bot.points.policy import DEFAULT_SPEC, Policy, Rule, policy_spec_column
from models import Award, LedgerEntry, Member, PointsLot, PointsRule
from models.points import (ADJUST, EARN, EXPIRE, GROWTH, LIMITED, OUTRANKED, PAID, POINTS, REVERSE, SPEND,
                           SUPERSEDED)


class NotEnoughPoints(Exception):
    def __init__(self, balance: int):
        self.balance = balance
        super().__init__(f"balance is {balance}")


def fire(book: Book, member_id: int, trigger: str, source_type: str, source_id, *,
         occurred_at: datetime | None = None, amount_fen: int | None = None,
         payment: str | None = None, rule_code: str | None = None,
         trip_end: date | None = None, base_points: int | None = None) -> list[Award]:
    """Apply every rule in force for `trigger` to one business event; the awards (new or found).
    `base_points` replaces the rules' own points where the event carries them (a survey's
    points); multipliers, frequency and caps still apply."""
    at = occurred_at or book.now
    member = book.lock(member_id)
    # One statement for the rules in force, the policy, and the event's awards already made
    # (by key), read under the member's lock: a second worker with the same event waits for
    # the lock, then finds them.
    suffix = f":{source_type}:{source_id}:{member.id}"
    rows = book.db.execute(_RULES_AND_AWARDS[rule_code is not None],
                           {"trigger": trigger, "code": rule_code, "key_suffix": suffix}).all()
    if rows:
        book.knows_policy(Policy(rows[0][3] or DEFAULT_SPEC))
    awards = []
    for rule_id, version, spec, _, found in rows:
        rule = Rule(rule_id, version, spec)
        if rule.active_at(at):
            awards.append(found or _decide(book, member, rule, rule.code + suffix, (source_type, str(source_id)),
                                           at, amount_fen, payment, trip_end, base_points))
    return awards


def _rules_and_awards(one_code: bool):
    query = (select(PointsRule.id, PointsRule.version, PointsRule.spec, policy_spec_column(), Award)
             .outerjoin(Award, Award.key == PointsRule.code.concat(bindparam("key_suffix")))
             .where(PointsRule.trigger == bindparam("trigger"), PointsRule.in_force).order_by(PointsRule.code))
    return query.where(PointsRule.code == bindparam("code")) if one_code else query


_RULES_AND_AWARDS = {False: _rules_and_awards(False), True: _rules_and_awards(True)}
_INSERT_AWARD = insert(Award.__table__).returning(Award.__table__.c.id)


def _decide(book: Book, member: Member, rule: Rule, key: str, source: tuple[str, str],
            at: datetime, amount_fen: int | None, payment: str | None, trip_end: date | None,
            base_points: int | None = None) -> Award:
    points, growth = rule.compute(amount_fen, member.level, payment, base_points)
    award = dict(key=key, member_id=member.id, rule_id=rule.id, rule_code=rule.code, group=rule.group,
                 source_type=source[0], source_id=source[1], status=PAID, computed_points=points,
                 computed_growth=growth, points=0, growth=0, points_reversed=0, growth_reversed=0,
                 occurred_at=at, created_at=book.now)
    # The award is written only after the checks, so their statement never counts it.
    seen = look(book, member, rule, at, points, growth)
    if rule.spec["frequency"]["count"] is not None and seen.used >= rule.spec["frequency"]["count"]:
        return _added(book, dict(award, status=LIMITED))
    if seen.standing is not None:
        standing_id, standing_points, standing_growth = seen.standing
        if (standing_points, standing_growth) >= (points, growth):
            return _added(book, dict(award, status=OUTRANKED))
        standing = book.db.get(Award, standing_id)
        reverse(book, standing, standing.points, standing.growth, cause=f"outranked-by-{key}",
                reason=f"同期只计最高一项：改按「{rule.title}」计")
        standing.status = SUPERSEDED
        seen.sums = None          # the reversal freed room under the caps: they read again
    award["points"], award["growth"] = within_caps(book, member, rule, points, growth, at, seen.sums)
    award = _added(book, award)
    title = pending.award_title(rule, award)
    held, paid = {}, []
    for ledger, delta in ((POINTS, award.points), (GROWTH, award.growth)):
        due = pending.matures_at((rule.spec.get("pending") or {}).get(ledger), at, trip_end)
        if delta and due is not None and due > book.now:
            pending.hold(book, member, award, ledger, delta, due)
            held[ledger] = pending.due_day_of(due)
        elif delta:
            paid.append((ledger, delta, f"{key}:{ledger}"))
    grown = sum(delta for ledger, delta, _ in paid if ledger == GROWTH)
    # The level the growth gives goes into the balances' one UPDATE when it needs no query.
    foreseen, level = foreseen_rise(book, member, member.growth + grown) if grown else (True, None)
    if paid:
        book.move(member, paid, EARN, title, source, rule=rule, award=award, level=level)
    if not foreseen:
        settle_level(book, member, RISE)
    if award.points or award.growth:
        book.tell(member, _earned_text(rule.title, award.points, award.growth, member.points, held))
    return award


def _added(book: Book, values: dict) -> Award:
    """INSERT … RETURNING id, then the award joins the session as the row it wrote (persistent,
    nothing to flush): the ORM's unit of work costs more than the insert."""
    award = Award(id=book.db.execute(_INSERT_AWARD, values).scalar_one(), **values)
    make_transient_to_detached(award)
    book.db.add(award)
    book.decided.append(award)
    return award


def _earned_text(title: str, points: int, growth: int, balance: int, held: dict) -> str:
    def part(ledger, name, amount):
        day = held.get(ledger)
        return f"{name} +{amount}" + (f"（待生效，{pending.when_text(day)}到账）" if day else "")
    parts = [part(POINTS, "积分", points)] if points else []
    parts += [part(GROWTH, "成长值", growth)] if growth else []
    return f"{title}：{'，'.join(parts)}。当前积分 {balance}。"


def reverse(book: Book, award: Award, points: int, growth: int, cause: str, reason: str) -> tuple[int, int]:
    """Take back up to (points, growth) of an award, never more than it has left and never
    below a zero balance (points already spent stay spent: the shortfall is in the reason);
    what waits to mature is cancelled instead (book.cancelled; the ledger-side amounts return).
    `cause` names the reversal (a refund id, the award that outranked it): one entry per cause."""
    member = book.lock(award.member_id)
    # Points of this award that expired already left the balance: they are not taken again.
    points = max(0, min(points, award.points - award.points_reversed - _expired(book, award)))
    growth = min(growth, award.growth - award.growth_reversed)
    # What still waits to mature is only cancelled: it never reached the balance.
    points, growth = pending.cancel(book, member, award, points, growth, reason)
    award.points_reversed += points
    award.growth_reversed += growth
    source = (award.source_type, award.source_id)
    taken = 0
    if points:
        taken = min(points, member.points)
        note = reason if taken == points else f"{reason}（应扣 {points}，余额不足，实扣 {taken}）"
        book.take(member, points, REVERSE, f"reverse:{cause}:{award.id}:{POINTS}", note, source, award=award)
    grown = 0
    if growth:
        grown = min(growth, member.growth)
        if grown:
            book.post(member, GROWTH, -grown, REVERSE, f"reverse:{cause}:{award.id}:{GROWTH}", reason,
                      source, award=award)
        settle_level(book, member, REVERSAL)
    if taken:
        book.tell(member, f"{reason}：扣回 {taken} 积分。当前积分 {member.points}。")
    return taken, grown


def _expired(book: Book, award: Award) -> int:
    lot = book.db.scalar(select(PointsLot.id).join(LedgerEntry, PointsLot.entry_id == LedgerEntry.id)
                         .where(LedgerEntry.award_id == award.id, LedgerEntry.ledger == POINTS))
    expiry = book.entry(f"expire:{lot}") if lot is not None else None    # a lot expires once
    return -expiry.delta if expiry is not None else 0


def _mine(entry: LedgerEntry | None, member_id: int) -> LedgerEntry | None:
    """An entry found by key, which must be this member's: a source used by another member is
    a caller's mistake, never an answer."""
    if entry is not None and entry.member_id != member_id:
        raise ValueError(f"{entry.key} belongs to another member")
    return entry


def spend(book: Book, member_id: int, points: int, source_type: str, source_id, reason: str) -> LedgerEntry:
    """Spend points once per (source_type, source_id); NotEnoughPoints when they do not suffice."""
    if points <= 0:
        raise ValueError("a spend takes a positive number of points")
    key = f"spend:{source_type}:{source_id}"
    member = book.lock(member_id)
    found = _mine(book.entry(key), member_id)
    if found is not None:
        if -found.delta != points:     # the same order spending another amount is a caller's bug
            raise ValueError(f"{key} already spent {-found.delta} points, not {points}")
        return found
    pending.mature_due(book, member)        # what is due counts, even before the hourly job ran
    expire_due(book, member)
    if member.points < points:
        raise NotEnoughPoints(member.points)
    book.take(member, points, SPEND, key, reason, (source_type, str(source_id)))
    return book.entry(key)


def adjust(book: Book, member_id: int, delta: int, reason: str, actor: str, key: str) -> LedgerEntry:
    """An operator's correction, once per key; a deduction beyond the balance is refused."""
    member = book.lock(member_id)
    entry_key = f"adjust:{key}"
    found = _mine(book.entry(entry_key), member_id)
    if found is not None:
        return found
    source = ("adjust", key)
    if delta > 0:
        book.post(member, POINTS, delta, ADJUST, entry_key, reason, source, actor=actor)
        book.tell(member, f"{reason}：积分 +{delta}。当前积分 {member.points}。")
    elif delta < 0:
        expire_due(book, member)
        if member.points < -delta:
            raise NotEnoughPoints(member.points)
        book.take(member, -delta, ADJUST, entry_key, reason, source, actor=actor)
        book.tell(member, f"{reason}：积分 {delta}。当前积分 {member.points}。")
    else:
        raise ValueError("an adjustment changes the balance")
    return book.entry(entry_key)


def has_due_lots(db, member_id: int, now: datetime) -> bool:
    """Whether any of the member's points have reached their expiry (a read, no lock)."""
    return db.scalar(select(PointsLot.id).where(PointsLot.member_id == member_id, PointsLot.remaining > 0,
                                                PointsLot.expires_at <= now).limit(1)) is not None


def expire_due(book: Book, member: Member) -> int:
    """Expire the member's lots whose time has come (the caller holds the member's lock)."""
    lots = list(book.db.scalars(select(PointsLot).where(
        PointsLot.member_id == member.id, PointsLot.remaining > 0,
        PointsLot.expires_at <= book.now).order_by(PointsLot.expires_at, PointsLot.id)))
    total = 0
    for lot in lots:
        amount, lot.remaining = lot.remaining, 0
        book.db.flush()
        book.post(member, POINTS, -amount, EXPIRE, f"expire:{lot.id}",
                  f"{lot.earned_at.astimezone(CST):%Y-%m-%d} 获得的积分到期", ("lot", str(lot.id)))
        total += amount
    if total:
        book.tell(member, f"{total} 积分已到期。当前积分 {member.points}。")
    return total
