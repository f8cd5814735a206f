"""The ledger's one writer: entries, balances and lots always move together, in one transaction.

Every operation on a member starts with `Book.lock(member_id)`: a row lock on PostgreSQL
(SELECT … FOR UPDATE), the database write lock on SQLite (bot/../models/db.py begins writes with
BEGIN IMMEDIATE). Checks that read before they write (balance, caps, frequency, exclusive groups)
are therefore never raced by a second worker on the same member.

Invariants, for every member, after every transaction:
    member.points == sum(points entries) == sum(lot.remaining)   and   member.points >= 0
    member.growth == sum(growth entries)                          and   member.growth >= 0
"""
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.points.policy import Policy, Rule, current_policy
from models import Award, LedgerEntry, Member, PointsLot
from models.points import GROWTH, POINTS


class Book:
    """The points engine's view of one transaction: the policy in force, the time, and what
    members should be told once it commits."""

    def __init__(self, db: Session, now: datetime, policy: Policy | None = None):
        self.db, self.now = db, now
        self.policy = policy or current_policy(db)
        self._told: list[tuple[int, str]] = []                  # (member id, text), in order
        self._levels_before: dict[int, tuple[Member, str]] = {}  # member id: (member, first level)
        self.decided: list[Award] = []         # awards decided in this transaction (not found ones)
        self.cancelled: dict[int, list[int]] = {}   # award id: [points, growth] cancelled while pending

    def tell(self, member: Member, text: str) -> None:
        self._told.append((member.id, text))

    def retell(self, member: Member, text: str) -> None:
        """Say `text` to the member instead of what this transaction told them so far."""
        self._told = [(who, said) for who, said in self._told if who != member.id]
        self.tell(member, text)

    def note_cancelled(self, award: Award, points: int, growth: int) -> None:
        total = self.cancelled.setdefault(award.id, [0, 0])
        total[0] += points
        total[1] += growth

    def level_moving(self, member: Member) -> None:
        """Called before a member's level changes: only the net change is news."""
        self._levels_before.setdefault(member.id, (member, member.level))

    @property
    def notices(self) -> list[tuple[int, str]]:
        """What to tell whom: the changes in order, then each member's net level change (a
        transaction that reverses one award and pays a larger one moves the level once)."""
        codes = [tier["code"] for tier in self.policy.tiers]
        news = list(self._told)
        for member, before in self._levels_before.values():
            if member.level == before or member.level not in codes:
                continue
            name = self.policy.level_name(member.level)
            if before not in codes:
                if codes.index(member.level) > 0:    # a new member's first level is not news
                    news.append((member.id, f"恭喜！您已升级为「{name}」。"))
            elif codes.index(member.level) > codes.index(before):
                news.append((member.id, f"恭喜！您已升级为「{name}」。"))
            else:
                news.append((member.id, f"您的会员等级已调整为「{name}」。"))
        return news

    def lock(self, member_id: int) -> Member:
        """The member row, locked for the rest of the transaction, with fresh balances."""
        member = self.db.scalar(select(Member).where(Member.id == member_id)
                                .with_for_update().execution_options(populate_existing=True))
        if member is None:
            raise LookupError(f"no member {member_id}")
        return member

    def entry(self, key: str) -> LedgerEntry | None:
        return self.db.scalar(select(LedgerEntry).where(LedgerEntry.key == key))

    def post(self, member: Member, ledger: str, delta: int, kind: str, key: str, reason: str,
             source: tuple[str, str], rule: Rule | None = None, award: Award | None = None,
             actor: str | None = None) -> LedgerEntry:
        """Append one entry and move the balance by SQL-side increment (the CHECK constraints on
        member refuse a negative balance even if a caller got it wrong). Positive points
        become a lot that spends and expiry draw on."""
        column = Member.points if ledger == POINTS else Member.growth
        balance = self.db.execute(
            update(Member).where(Member.id == member.id).values({column: column + delta})
            .returning(column).execution_options(synchronize_session=False)).scalar_one()
        set_committed_value(member, ledger, balance)
        row = LedgerEntry(key=key, member_id=member.id, ledger=ledger, delta=delta, balance=balance,
                          kind=kind, rule_id=rule.id if rule else None,
                          rule_version=rule.version if rule else None,
                          award_id=award.id if award else None, source_type=source[0],
                          source_id=str(source[1]), reason=reason[:255], actor=actor,
                          created_at=self.now)
        self.db.add(row)
        self.db.flush()
        if ledger == POINTS and delta > 0:
            self.db.add(PointsLot(entry_id=row.id, member_id=member.id, amount=delta, remaining=delta,
                                  earned_at=self.now, expires_at=self.policy.expires_at(self.now)))
        return row

    def take(self, member: Member, amount: int, kind: str, key: str, reason: str,
             source: tuple[str, str], award: Award | None = None, rule: Rule | None = None,
             actor: str | None = None) -> int:
        """Remove up to `amount` points (never below zero), drawing lots oldest expiry first
        (the award's own lot first, for a reversal); how many were taken."""
        amount = min(amount, member.points)
        if amount <= 0:
            return 0
        left = amount
        for lot in self._lots_to_draw(member.id, award):
            used = min(lot.remaining, left)
            lot.remaining -= used
            left -= used
            if not left:
                break
        if left:      # lots and balance disagree: refuse rather than write a wrong ledger
            raise RuntimeError(f"member {member.id}: lots hold {amount - left} of {amount} points")
        self.post(member, POINTS, -amount, kind, key, reason, source, rule=rule, award=award, actor=actor)
        return amount

    def _lots_to_draw(self, member_id: int, award: Award | None):
        if award is not None:
            own = self.db.scalar(select(PointsLot).join(LedgerEntry, PointsLot.entry_id == LedgerEntry.id)
                                 .where(LedgerEntry.award_id == award.id, PointsLot.remaining > 0))
            if own is not None:
                yield own
        # Oldest expiry first, never-expiring last (spends consume the oldest
        # unexpired points first). Drawn lots drop out of the query (autoflush), so each
        # batch starts from the top again.
        query = (select(PointsLot).where(PointsLot.member_id == member_id, PointsLot.remaining > 0)
                 .order_by(PointsLot.expires_at.is_(None), PointsLot.expires_at, PointsLot.id)
                 .limit(100))
        while batch := list(self.db.scalars(query)):
            yield from batch
