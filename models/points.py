"""The points and growth ledgers and what decides them (bot/points/ has the rules of use).

Ledger rows are never updated or deleted. Awards and lots are the engine's bookkeeping about
ledger rows (what a business event was paid, what is left of an earning to spend or expire);
both only ever move in the same transaction as the ledger rows they describe.
"""
from datetime import datetime

from sqlalchemy import (JSON, BigInteger, CheckConstraint, ForeignKey, Index, String,
                        UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, bigpk, intpk, timestamp

POINTS = "points"
GROWTH = "growth"
# Entry kinds: earn, spend, reverse, expire, adjust.
EARN, SPEND, REVERSE, EXPIRE, ADJUST = "earn", "spend", "reverse", "expire", "adjust"
# Award statuses: what happened to one (rule, business event, member).
PAID = "paid"               # paid (possibly 0 after a cap), may be partly reversed later
OUTRANKED = "outranked"     # a larger award of its exclusive group already stood: paid nothing
SUPERSEDED = "superseded"   # paid, then reversed because a larger award of its group arrived
LIMITED = "limited"         # the rule's frequency was used up: paid nothing
REFUNDED = "refunded"       # paid, then its order was refunded in full: no longer stands in its group
# Pending credit states: what became of an award's points (or growth) that wait to mature.
WAITING, MATURED, CANCELLED = "waiting", "matured", "cancelled"


class PointsPolicy(Base):
    """One loaded rules file's member-wide settings (levels, caps, groups, expiry); one in force."""

    __tablename__ = "points_policy"
    id: Mapped[intpk]
    spec: Mapped[dict] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    in_force: Mapped[bool] = mapped_column(default=True, index=True)
    loaded_at: Mapped[timestamp]


class PointsRule(Base):
    """One version of one rule; a changed rule is a new row, old versions stay for the ledger."""

    __tablename__ = "points_rule"
    __table_args__ = (UniqueConstraint("code", "version"),
                      Index("ix_points_rule_trigger_in_force", "trigger", "in_force"))
    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    trigger: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    in_force: Mapped[bool] = mapped_column(default=True)
    loaded_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<PointsRule {self.code} v{self.version}{'' if self.in_force else ' retired'}>"


class Award(Base):
    """What one rule decided for one business event of one member; `key` makes it happen once."""

    __tablename__ = "points_award"
    __table_args__ = (
        Index("ix_points_award_member_occurred", "member_id", "occurred_at"),
        Index("ix_points_award_source", "source_type", "source_id"),
    )
    id: Mapped[bigpk]
    key: Mapped[str] = mapped_column(String(255), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("points_rule.id"))
    rule_code: Mapped[str] = mapped_column(String(64))
    group: Mapped[str | None] = mapped_column(String(64))
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    computed_points: Mapped[int] = mapped_column(BigInteger, default=0)   # before the caps
    computed_growth: Mapped[int] = mapped_column(BigInteger, default=0)   # before the caps
    points: Mapped[int] = mapped_column(BigInteger, default=0)            # paid, or pending
    growth: Mapped[int] = mapped_column(BigInteger, default=0)            # paid, or pending
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    growth_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())          # the business event's time
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<Award {self.key} {self.status} {self.points}p {self.growth}g>"


class LedgerEntry(Base):
    """One change to one balance of one member (ledger: points or growth)."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index("ix_ledger_entry_member_ledger_id", "member_id", "ledger", "id"),
        Index("ix_ledger_entry_award_id", "award_id"),      # a reversal finds its award's entries
        CheckConstraint("delta <> 0", name="delta_not_zero"),
    )
    id: Mapped[bigpk]
    key: Mapped[str] = mapped_column(String(255), unique=True)   # one business event, one entry
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    ledger: Mapped[str] = mapped_column(String(8))               # POINTS | GROWTH
    delta: Mapped[int] = mapped_column(BigInteger)
    balance: Mapped[int] = mapped_column(BigInteger)             # the balance right after
    kind: Mapped[str] = mapped_column(String(8))                 # EARN | SPEND | REVERSE | EXPIRE | ADJUST
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("points_rule.id"))
    rule_version: Mapped[int | None]
    award_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("points_award.id"))
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(255))              # for the member, in Chinese
    actor: Mapped[str | None] = mapped_column(String(64))         # who, for operator adjustments
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<LedgerEntry {self.ledger} {self.delta:+d} {self.kind} {self.key}>"


class PointsLot(Base):
    """What is left of one positive points entry: spends, reversals and expiry draw it down,
    oldest expiry first. Sum of `remaining` over a member's lots equals their points balance."""

    __tablename__ = "points_lot"
    __table_args__ = (
        # Open lots of one member, soonest expiry first: spends, "积分", expiry. Partial, because
        # with a yearly expiry most of the table expires at one instant and a plain index on
        # expires_at would lead the planner to scan every member's lots (bench/README.md).
        Index("ix_points_lot_member_open", "member_id", "expires_at",
              postgresql_where=text("remaining > 0"), sqlite_where=text("remaining > 0")),
        Index("ix_points_lot_expires", "expires_at",       # the hourly expiry job
              postgresql_where=text("remaining > 0"), sqlite_where=text("remaining > 0")),
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
    )
    id: Mapped[bigpk]
    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entry.id"), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LevelChange(Base):
    """A member moved from one level to another, and why."""

    __tablename__ = "level_change"
    id: Mapped[bigpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    from_level: Mapped[str] = mapped_column(String(32))
    to_level: Mapped[str] = mapped_column(String(32))
    growth: Mapped[int] = mapped_column(BigInteger)
    cause: Mapped[str] = mapped_column(String(32))    # growth | reversal | recalculation
    created_at: Mapped[timestamp]


class PendingCredit(Base):
    """An award's points (or growth) that wait for a date (`pending:` in the rules file): no
    ledger entry, no lot, no balance until the maturing job pays them, once; a reversal before
    that only cancels (part of) them. `amount - cancelled` is what maturing pays."""

    __tablename__ = "points_pending"
    __table_args__ = (
        UniqueConstraint("award_id", "ledger"),
        Index("ix_points_pending_due", "matures_at",        # the maturing job
              postgresql_where=text("state = 'waiting'"), sqlite_where=text("state = 'waiting'")),
        Index("ix_points_pending_member_waiting", "member_id", "matures_at",     # "积分"
              postgresql_where=text("state = 'waiting'"), sqlite_where=text("state = 'waiting'")),
        CheckConstraint("cancelled >= 0 AND cancelled <= amount", name="cancelled_in_range"),
    )
    id: Mapped[bigpk]
    award_id: Mapped[int] = mapped_column(BigId, ForeignKey("points_award.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    ledger: Mapped[str] = mapped_column(String(8))               # POINTS | GROWTH
    amount: Mapped[int] = mapped_column(BigInteger)
    cancelled: Mapped[int] = mapped_column(BigInteger, default=0)
    matures_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))               # WAITING | MATURED | CANCELLED
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<PendingCredit {self.ledger} {self.amount - self.cancelled} {self.state} {self.matures_at}>"
