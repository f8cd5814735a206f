"""Levels come from growth, never from the spendable balance (ANCHORS.md §2.3, open-loyalty#131).

Qualifying growth is the growth balance, or, when the policy sets `downgrade_window_months`,
the growth entered within that many months. Growth that rises can only raise the level (an
award never demotes anyone); a reversal and the periodic recalculation set the level the
qualifying growth gives, down as well as up.
"""
from sqlalchemy import and_, func, select

from bot.clock import add_months
from bot.points.ledger import Book
from models import Award, LedgerEntry, LevelChange, Member, PendingCredit
from models.points import GROWTH, MATURED

RISE, REVERSAL, RECALCULATION = "growth", "reversal", "recalculation"


def qualifying_growth(book: Book, member: Member) -> int:
    window = book.policy.spec["levels"]["downgrade_window_months"]
    if not window:
        return member.growth
    # Growth counts by when it was earned: a reversal (a refund) dates from the award it takes
    # back, so refunding growth that already left the window takes nothing from the window.
    # Growth that waited (pending.py) was earned when it matured, not when it was awarded.
    since = add_months(book.now, -window)
    earned = func.coalesce(PendingCredit.settled_at, Award.created_at, LedgerEntry.created_at)
    matured = and_(PendingCredit.award_id == LedgerEntry.award_id, PendingCredit.ledger == GROWTH,
                   PendingCredit.state == MATURED)
    total = book.db.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0))
                           .select_from(LedgerEntry).outerjoin(Award, Award.id == LedgerEntry.award_id)
                           .outerjoin(PendingCredit, matured)
                           .where(LedgerEntry.member_id == member.id, LedgerEntry.ledger == GROWTH,
                                  earned >= since))
    return max(0, total or 0)


def settle_level(book: Book, member: Member, cause: str) -> None:
    """Put the member on the level their growth earns and record the change (the Book
    announces the net change of the transaction)."""
    target = _target(book, member, qualifying_growth(book, member), cause)
    if target is not None:
        _record(book, member, target, member.growth, cause)
        member.level, member.level_since = target, book.now


def foreseen_rise(book: Book, member: Member, growth_after: int) -> tuple[bool, str | None]:
    """(foreseen, level) for growth about to rise to `growth_after`, before the balance moves:
    without a downgrade window the qualifying growth is that balance, so the level is known
    now; the change is recorded here and `level` (None: no change) goes into Book.move's
    UPDATE. With a window it takes the ledger: (False, None), and the caller settles the
    level after the entries (settle_level)."""
    if book.policy.spec["levels"]["downgrade_window_months"]:
        return False, None
    target = _target(book, member, growth_after, RISE)
    if target is not None:
        _record(book, member, target, growth_after, RISE)
    return True, target


def _target(book: Book, member: Member, qualifying: int, cause: str) -> str | None:
    """The level to move to, or None: growth that rises never lowers a level."""
    codes = [tier["code"] for tier in book.policy.tiers]
    target = book.policy.level_for(qualifying)["code"]
    current = member.level if member.level in codes else None
    if cause == RISE and current is not None and codes.index(current) >= codes.index(target):
        return None
    return None if target == member.level else target


def _record(book: Book, member: Member, target: str, growth: int, cause: str) -> None:
    book.level_moving(member)
    book.db.add(LevelChange(member_id=member.id, from_level=member.level or "", to_level=target,
                            growth=growth, cause=cause, created_at=book.now))
