"""Many workers on one member at the same moment (issue #3 "Must show"): spends never overdraw and
succeed exactly as far as the balance goes, a business event is paid once, a cap holds, refunds
never exceed their order. Each worker has its own session (bot/points `transaction`); PostgreSQL
serialises them on the member row lock (SELECT … FOR UPDATE), SQLite on its write lock (BEGIN
IMMEDIATE and a 15 s busy timeout, models/db.py: writers wait, none fails "database is locked")."""
from itertools import accumulate

import pytest
import concurrency_support
from sqlalchemy import select

from bot import points
from bot.points.engine import NotEnoughPoints, adjust, fire, spend
from bot.points.policy import load
from bot.points.purchases import PurchaseError, record_purchase, refund_purchase
from bot.points.rules_file import parse
from models import Award, LedgerEntry, Member, PointsLot, Purchase
from models.points import EARN, POINTS, SPEND

RULES = """
levels:
  tiers: [{code: registered, name: 注册会员, growth: 0}, {code: bronze, name: 铜牌会员, growth: 100}]
caps: {day: 100}
rules:
  - {id: survey, trigger: survey_complete, title: 完成问卷, points: 30}
  - {id: purchase, trigger: purchase, title: 消费, points: {per: 10, award: 1}, growth: {per: 1, award: 1}}
"""
AMOUNTS = [10 + n * 7 % 21 for n in range(20)]        # 10..30, 400 in all: far more than 100


def at_once(actions) -> list:
    """The actions run together; a refusal (NotEnoughPoints, PurchaseError) is a result."""
    return concurrency_support.at_once(actions, (NotEnoughPoints, PurchaseError))


@pytest.fixture
def engine(app):
    """engine(action, *args): action(book, *args) in a transaction of its own, as a worker runs it."""
    def run(action, *args, **kwargs):
        with points.transaction(app) as book:
            return action(book, *args, **kwargs)
    run(lambda book: load(book.db, parse(RULES)))
    return run


@pytest.fixture
def member(db):
    row = Member(phone="13800138000", level="registered")
    db.add(row)
    db.commit()
    return row.id


def held(db, member_id) -> tuple[int, int]:
    db.rollback()
    row = db.get(Member, member_id)
    return row.points, row.growth


def rows(db, model, member_id, *where) -> list:
    db.rollback()
    return list(db.scalars(select(model).where(model.member_id == member_id, *where).order_by(model.id)))


def test_twenty_concurrent_spends_succeed_exactly_as_far_as_the_balance_goes(engine, member, db):
    """Issue #3: 20 spends of 10..30 against 100 points at once: the successes are what some
    serial order gives (each leaves the balance the one before left, minus its amount), every
    refusal saw a balance below its amount, and none of the refused would fit now."""
    for n in range(5):
        engine(adjust, member, 20, "开业赠送", "ops", f"gift-{n}")          # five lots of 20

    outcomes = at_once([lambda n=n, amount=amount: engine(spend, member, amount, "mall", f"M{n}", "商城兑换")
                        for n, amount in enumerate(AMOUNTS)])

    refused = [(amount, o.balance) for amount, o in zip(AMOUNTS, outcomes) if isinstance(o, NotEnoughPoints)]
    spent = [o for o in outcomes if not isinstance(o, NotEnoughPoints)]
    assert len(spent) + len(refused) == 20 and spent and refused
    balance = held(db, member)[0]
    assert balance == 100 - sum(-e.delta for e in spent) >= 0
    in_order = rows(db, LedgerEntry, member, LedgerEntry.kind == SPEND)
    assert [e.balance for e in in_order] == list(accumulate((e.delta for e in in_order), initial=100))[1:]
    assert all(seen < amount for amount, seen in refused)
    assert {seen for _, seen in refused} <= {100} | {e.balance for e in in_order}
    assert balance < min(amount for amount, _ in refused)
    assert sum(lot.remaining for lot in rows(db, PointsLot, member)) == balance


def test_a_business_event_fired_by_many_workers_at_once_is_paid_once(engine, member, db):
    """Issue #3: the same survey completion pushed to ten workers at once pays 30 points once."""
    awards = at_once([lambda: engine(fire, member, "survey_complete", "survey", "S1")] * 10)
    assert len({a[0].id for a in awards}) == 1
    assert [e.delta for e in rows(db, LedgerEntry, member, LedgerEntry.kind == EARN)] == [30]
    assert held(db, member) == (30, 0)


def test_an_order_recorded_by_many_workers_at_once_is_paid_once(engine, member, db, clock):
    """Issue #3 §5: the booking system retrying one order ten times at once: one purchase, one
    award, its points and growth once."""
    record = lambda book: record_purchase(book, order_id="A1", member_id=member, amount_fen=50_000,
                                          paid_at=clock.now(), payment_method="wechat", source="api")
    outcomes = at_once([lambda: engine(record)] * 10)
    assert sorted(o.replayed for o in outcomes) == [False] + [True] * 9
    assert {(o.points, o.growth) for o in outcomes} == {(50, 500)}
    assert len(rows(db, Purchase, member)) == len(rows(db, Award, member)) == 1
    assert held(db, member) == (50, 500)


def test_concurrent_awards_never_exceed_the_daily_cap(engine, member, db):
    """Issue #3: twenty different events of 30 points at once under a daily cap of 100: the
    member earns exactly 100 (30, 30, 30, 10 and nothing more), in whatever order."""
    awards = at_once([lambda n=n: engine(fire, member, "survey_complete", "survey", f"S{n}")
                      for n in range(20)])
    assert sorted((a[0].points for a in awards), reverse=True) == [30, 30, 30, 10] + [0] * 16
    earned = rows(db, LedgerEntry, member, LedgerEntry.ledger == POINTS)
    assert [e.balance for e in earned] == [30, 60, 90, 100]
    assert held(db, member) == (100, 0)


def test_concurrent_refunds_of_one_order_never_refund_more_than_it(engine, member, db, clock):
    """Issue #3 §5: ten refund calls of 30 yuan at once against a 100-yuan order, each refund id
    sent twice: three refunds are made, each reversing its share once; the rest are over-refunds
    or replays of a refund already made."""
    engine(lambda book: record_purchase(book, order_id="A1", member_id=member, amount_fen=10_000,
                                        paid_at=clock.now(), payment_method="wechat", source="api"))
    refund = lambda book, refund_id: refund_purchase(book, order_id="A1", refund_id=refund_id, amount_fen=3_000)
    outcomes = at_once([lambda n=n: engine(refund, f"R{n // 2}") for n in range(10)])
    made = [o for o in outcomes if not isinstance(o, PurchaseError) and not o.replayed]
    assert [(o.points, o.growth) for o in made] == [(3, 30)] * 3
    assert {o.code for o in outcomes if isinstance(o, PurchaseError)} <= {"over_refund"}
    db.rollback()
    assert db.scalar(select(Purchase.refunded_fen)) == 9_000
    assert held(db, member) == (1, 10)
