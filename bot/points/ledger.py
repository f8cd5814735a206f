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

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.points.policy import Policy, Rule, current_policy
from models import Award, LedgerEntry, Member, PointsLot
from models.points import GROWTH, POINTS

# The award path's statements, built once: building a statement costs more Python than running it.
_LOCK = (select(Member).where(Member.id == bindparam("member_id"))
         .with_for_update().execution_options(populate_existing=True))
_MOVE = (update(Member).where(Member.id == bindparam("member_id"))
         .values(points=Member.points + bindparam("points"), growth=Member.growth + bindparam("growth"))
         .returning(Member.points, Member.growth).execution_options(synchronize_session=False))
_MOVE_AND_LEVEL = (update(Member).where(Member.id == bindparam("member_id"))
                   .values(points=Member.points + bindparam("points"), growth=Member.growth + bindparam("growth"),
                           level=bindparam("level"), level_since=bindparam("level_since"))
                   .returning(Member.points, Member.growth).execution_options(synchronize_session=False))
# Ids come back with their keys (unique), which lets SQLite batch the rows as PostgreSQL does.
_ENTRIES = insert(LedgerEntry.__table__).returning(LedgerEntry.__table__.c.key, LedgerEntry.__table__.c.id)
_LOTS = insert(PointsLot.__table__)


class Book:
    """The points engine's view of one transaction: the policy in force, the time, and what
    members should be told once it commits."""

    def __init__(self, db: Session, now: datetime, policy: Policy | None = None):
        self.db, self.now = db, now
        self._policy = policy
        self._told: list[tuple[int, str]] = []                  # (member id, text), in order
        self._levels_before: dict[int, tuple[Member, str]] = {}  # member id: (member, first level)
        self.decided: list[Award] = []         # awards decided in this transaction (not found ones)
        self.cancelled: dict[int, list[int]] = {}   # award id: [points, growth] cancelled while pending
        self.held: list = []                   # pending credits this transaction made (pending.hold)
        self._locked: dict[int, tuple] = {}         # member id: (transaction, the member row it locked)

    @property
    def policy(self) -> Policy:
        """The policy in force, read once per transaction when first needed (fire reads it
        with the rules: engine.fire)."""
        if self._policy is None:
            self._policy = current_policy(self.db)
        return self._policy

    def knows_policy(self, policy: Policy | None) -> None:
        if self._policy is None and policy is not None:
            self._policy = policy

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
        news = list(self._told)
        if not self._levels_before:
            return news
        codes = [tier["code"] for tier in self.policy.tiers]
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
        """The member row, locked for the rest of the transaction, with fresh balances. Locked
        once per transaction: the lock holds until the commit, and every balance change goes
        through `post`/`move`, which keep the object's balances equal to the row's."""
        transaction = self.db.get_transaction()
        locked = self._locked.get(member_id)
        if locked is not None and locked[0] is transaction and locked[1] in self.db:
            return locked[1]
        member = self.db.scalar(_LOCK, {"member_id": member_id})
        if member is None:
            raise LookupError(f"no member {member_id}")
        # Kept with the transaction that took the lock: a Book outliving a commit locks again.
        self._locked[member_id] = (self.db.get_transaction(), member)
        return member

    def entry(self, key: str) -> LedgerEntry | None:
        return self.db.scalar(select(LedgerEntry).where(LedgerEntry.key == key))

    def post(self, member: Member, ledger: str, delta: int, kind: str, key: str, reason: str,
             source: tuple[str, str], rule: Rule | None = None, award: Award | None = None,
             actor: str | None = None) -> int:
        """Append one entry and move the balance by SQL-side increment (the CHECK constraints on
        member refuse a negative balance even if a caller got it wrong). Positive points
        become a lot that spends and expiry draw on. The entry's id."""
        return self.move(member, [(ledger, delta, key)], kind, reason, source, rule=rule, award=award,
                         actor=actor)[0]

    def move(self, member: Member, changes: list[tuple[str, int, str]], kind: str, reason: str,
             source: tuple[str, str], rule: Rule | None = None, award: Award | None = None,
             actor: str | None = None, level: str | None = None) -> list[int]:
        """`post` for up to one change (ledger, delta, entry key) per ledger, in three statements
        whatever their number: one UPDATE of the balances (and of the level, when `level` is
        given: the caller recorded the change), one INSERT of the entries, one of their lots.
        The entries' ids, in order."""
        deltas = {POINTS: 0, GROWTH: 0}
        for ledger, delta, _ in changes:
            deltas[ledger] += delta
        params = {"member_id": member.id, "points": deltas[POINTS], "growth": deltas[GROWTH]}
        if level is not None:
            params.update(level=level, level_since=self.now)
        balances = self.db.execute(_MOVE if level is None else _MOVE_AND_LEVEL, params).one()
        set_committed_value(member, POINTS, balances[0])
        set_committed_value(member, GROWTH, balances[1])
        if level is not None:
            set_committed_value(member, "level", level)
            set_committed_value(member, "level_since", self.now)
        common = dict(member_id=member.id, kind=kind, rule_id=rule.id if rule else None,
                      rule_version=rule.version if rule else None, award_id=award.id if award else None,
                      source_type=source[0], source_id=str(source[1]), reason=reason[:255], actor=actor,
                      created_at=self.now)
        rows = [dict(common, key=key, ledger=ledger, delta=delta,
                     balance=balances[0] if ledger == POINTS else balances[1])
                for ledger, delta, key in changes]
        by_key = dict(self.db.execute(_ENTRIES, rows).all())
        ids = [by_key[row["key"]] for row in rows]
        lots = [dict(entry_id=entry_id, member_id=member.id, amount=row["delta"], remaining=row["delta"],
                     earned_at=self.now, expires_at=self.policy.expires_at(self.now), reminded_at=None)
                for entry_id, row in zip(ids, rows) if row["ledger"] == POINTS and row["delta"] > 0]
        if lots:
            self.db.execute(_LOTS, lots)
        return ids

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
