"""A maturing job racing refunds (bot/points/pending.py): three maturing runs and a full refund
of each of eight trips, all at once, pay or cancel each pending credit exactly once. Every side
takes the member's row lock first (PostgreSQL SELECT … FOR UPDATE, SQLite's write lock) and
reads the credit again under it, so whichever comes second sees what the first did."""
from datetime import date, datetime

import concurrency_support
from sqlalchemy import select

import workers.points
from bot import points
from bot.clock import CST
from bot.points.policy import load
from bot.points.purchases import PurchaseError, record_purchase, refund_purchase
from bot.points.rules_file import parse
from models import LedgerEntry, Member, PendingCredit, Refund
from models.points import CANCELLED, EARN, MATURED, REVERSE

RULES = """
rules:
  - {id: tour, trigger: purchase, title: 旅游消费, points: {per: 10, award: 1}, growth: {per: 1, award: 1},
     pending: {until: trip_end}}
"""
TRIPS = 8


def test_maturing_runs_racing_refunds_pay_or_cancel_each_credit_exactly_once(app, db, clock):
    with points.transaction(app) as book:
        load(book.db, parse(RULES))
    members = [Member(phone=f"1380013{n:04d}", level="member") for n in range(TRIPS)]
    db.add_all(members)
    db.commit()
    for n, member in enumerate(members):
        with points.transaction(app) as book:
            record_purchase(book, order_id=f"T-{n}", member_id=member.id, amount_fen=50_000,
                            paid_at=clock.now(), payment_method="wechat", source="api",
                            trip_end=date(2026, 11, 23))
    clock.advance(seconds=(datetime(2026, 11, 24, 0, 30, tzinfo=CST) - clock.now()).total_seconds())

    def mature():
        with app.app_context():
            return workers.points.mature_pending()

    def refund(n):
        with points.transaction(app) as book:
            return refund_purchase(book, order_id=f"T-{n}", refund_id="R", amount_fen=None)

    outcomes = concurrency_support.at_once([mature] * 3 + [lambda n=n: refund(n) for n in range(TRIPS)],
                                           (PurchaseError,))
    assert not any(isinstance(o, PurchaseError) for o in outcomes)
    db.rollback()
    matured = 0
    for member in members:
        credits = list(db.scalars(select(PendingCredit).where(PendingCredit.member_id == member.id)))
        kinds = [k for k in db.scalars(select(LedgerEntry.kind).where(LedgerEntry.member_id == member.id)
                                       .order_by(LedgerEntry.id))]
        row = db.get(Member, member.id)
        states = {c.state for c in credits}
        assert len(credits) == 2 and len(states) == 1, states      # points and growth went one way
        if states == {MATURED}:                                 # paid, then the refund reversed it
            matured += 1
            assert sorted(kinds) == sorted([EARN, EARN, REVERSE, REVERSE])
        else:                                                   # cancelled: the ledger never moved
            assert states == {CANCELLED} and kinds == []
            assert all(c.cancelled == c.amount for c in credits)
        assert (row.points, row.growth) == (0, 0)
    refunds = list(db.scalars(select(Refund)))
    assert len(refunds) == TRIPS
    assert sorted((r.points_reversed, r.points_cancelled) for r in refunds) == sorted(
        [(50, 0)] * matured + [(0, 50)] * (TRIPS - matured))
