"""Custom rules paid by an operator (`points award`), and exclusive groups after a refund."""

import pytest
from sqlalchemy import select

from bot import points
from bot.points.engine import fire, spend
from bot.points.policy import load
from bot.points.purchases import record_purchase, refund_purchase
from bot.points.rules_file import parse
from models import Award, Member
from models.points import PAID, REFUNDED

RULES = """
groups:
  day: {window: day}
rules:
  - {id: visit, trigger: custom, title: 门店活动, points: 30, frequency: {count: 2, per: month}}
  - {id: other, trigger: custom, title: 其他活动, points: 5}
  - {id: birthday, trigger: birthday, points: 200, group: day}
  - {id: purchase, trigger: purchase, points: {per: 1, award: 1}, group: day}
"""


def setup(app, db) -> int:
    with points.transaction(app) as book:
        load(book.db, parse(RULES))
    member = Member(phone="13800001111", level="member")
    db.add(member)
    db.commit()
    return member.id


def test_points_award_pays_one_custom_rule_once_per_event(app, db):
    """`points award PHONE --rule CODE --event ID`: that rule only, once per event id; the
    rule's frequency still applies."""
    member_id = setup(app, db)
    cli = app.test_cli_runner()
    first = cli.invoke(args=["points", "award", "13800001111", "--rule", "visit", "--event", "A"])
    assert first.exit_code == 0, first.output
    assert "138****1111: visit paid 30 points" in first.output
    again = cli.invoke(args=["points", "award", "13800001111", "--rule", "visit", "--event", "A"])
    assert "already awarded for this event" in again.output
    cli.invoke(args=["points", "award", "13800001111", "--rule", "visit", "--event", "B"])
    third = cli.invoke(args=["points", "award", "13800001111", "--rule", "visit", "--event", "C"])
    assert "visit limited 0 points" in third.output          # 2 per month
    db.expire_all()
    assert db.get(Member, member_id).points == 60            # "other" was never paid


def test_points_award_refuses_what_is_not_a_custom_rule_in_force(app, db):
    """Unknown rule, a rule of another trigger, an unknown phone: clear errors, nothing paid."""
    setup(app, db)
    cli = app.test_cli_runner()
    for args, message in ((["13800001111", "--rule", "nope"], "no custom rule nope"),
                          (["13800001111", "--rule", "birthday"], "no custom rule birthday"),
                          (["13900000000", "--rule", "visit"], "no member with phone 139****0000")):
        result = cli.invoke(args=["points", "award", *args, "--event", "E"])
        assert result.exit_code != 0 and message in result.output
    assert db.scalar(select(Award.id)) is None


def test_a_fully_refunded_order_no_longer_outranks_a_later_award_of_its_group(app, db, clock):
    """Exclusive groups compare what an award still gives: after the order is refunded, the
    birthday later that day stands instead of being outranked by nothing."""
    member_id = setup(app, db)
    with points.transaction(app) as book:
        record_purchase(book, order_id="O1", member_id=member_id, amount_fen=50000, paid_at=clock.now(),
                        payment_method="wechat", source="test")
    with points.transaction(app) as book:
        refund_purchase(book, order_id="O1", refund_id="R1", amount_fen=None)
    clock.advance(hours=1)
    with points.transaction(app) as book:
        [birthday] = fire(book, member_id, "birthday", "birthday", 2026)
        assert (birthday.status, birthday.points) == (PAID, 200)
    db.expire_all()
    order = db.scalar(select(Award).where(Award.rule_code == "purchase"))
    assert order.status == REFUNDED and db.get(Member, member_id).points == 200


def test_a_partly_refunded_order_still_outranks_a_smaller_award(app, db, clock):
    """Half of a 500-point order refunded still gives 250 > 200: the birthday is outranked."""
    member_id = setup(app, db)
    with points.transaction(app) as book:
        record_purchase(book, order_id="O1", member_id=member_id, amount_fen=50000, paid_at=clock.now(),
                        payment_method="wechat", source="test")
        refund_purchase(book, order_id="O1", refund_id="R1", amount_fen=25000)
    clock.advance(hours=1)
    with points.transaction(app) as book:
        [birthday] = fire(book, member_id, "birthday", "birthday", 2026)
        assert (birthday.status, birthday.points) == ("outranked", 0)
    db.expire_all()
    assert db.get(Member, member_id).points == 250


def test_a_spend_retried_with_another_amount_is_refused(app, db):
    """The same mall order spending once: a retry with the same amount is answered by the first
    entry; one with another amount is the caller's bug and is refused, nothing changes."""
    member_id = setup(app, db)
    app.test_cli_runner().invoke(args=["points", "award", "13800001111", "--rule", "visit", "--event", "A"])
    with points.transaction(app) as book:
        first = spend(book, member_id, 10, "mall", "M1", "兑换")
        assert spend(book, member_id, 10, "mall", "M1", "兑换").id == first.id
    with pytest.raises(ValueError), points.transaction(app) as book:
        spend(book, member_id, 20, "mall", "M1", "兑换")
    db.expire_all()
    assert db.get(Member, member_id).points == 20
