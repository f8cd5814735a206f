"""Exclusive groups when awards tie (bot/points/engine.py: "only the largest award stands"): an
equal award arriving later never displaces the one standing, so nothing is reversed and paid
again and the member is told once; a later award larger in growth alone does displace it."""
import pytest
from sqlalchemy import select

from bot.points.engine import fire
from models import Award, LedgerEntry
from models.points import OUTRANKED, PAID, REVERSE, SUPERSEDED
from tests.test_points_ledger import balances, rules_file

TIED = rules_file("""
    {id: bind, trigger: bind, points: 100, growth: 100, group: day}
    {id: birthday, trigger: birthday, points: 100, growth: 100, group: day}
    {id: gift, trigger: custom, points: 100, growth: 100, group: day}
    {id: richer, trigger: custom, points: 100, growth: 101, group: day}
""", groups="{day: {window: day}}")
FIRES = {"bind": ("bind", "member", "1"), "birthday": ("birthday", "birthday", 2026),
         "gift": ("custom", "event", "e1")}


def group_awards(db, m) -> dict[str, str]:
    db.rollback()
    return {a.rule_code: a.status for a in db.scalars(select(Award).where(Award.member_id == m))}


def reversals(db, m) -> int:
    return len(db.scalars(select(LedgerEntry).where(LedgerEntry.member_id == m, LedgerEntry.kind == REVERSE)).all())


@pytest.mark.parametrize("order", [("bind", "birthday", "gift"), ("gift", "birthday", "bind"),
                                   ("birthday", "bind", "gift")], ids="-".join)
def test_equal_awards_in_one_window_leave_the_standing_one(rules, member, do, db, clock, order):
    """Three equal awards on one China day, in any order: the first stands, the others are
    outranked and never paid; no reversal, one award's points and growth, told only of the first."""
    rules(TIED)
    m = member()
    told = []
    for name in order:
        event, source, source_id = FIRES[name]
        kwargs = {"rule_code": "gift"} if event == "custom" else {}
        do(fire, m, event, source, source_id, **kwargs)
        told.append(len(do.notices))
        clock.advance(hours=1)
    assert group_awards(db, m) == {order[0]: PAID, order[1]: OUTRANKED, order[2]: OUTRANKED}
    assert reversals(db, m) == 0
    assert balances(db, m)[:2] == (100, 100)
    assert told[0] > 0 and told[1:] == [0, 0]       # earned (and the level it reached); then nothing


def test_a_later_award_larger_in_growth_alone_displaces_the_standing_one(rules, member, do, db, clock):
    """Equal points, one more growth: larger, so the standing award is reversed (points and
    growth) and the new one pays."""
    rules(TIED)
    m = member()
    do(fire, m, "bind", "member", "1")
    clock.advance(hours=1)
    do(fire, m, "custom", "event", "e2", rule_code="richer")
    assert group_awards(db, m) == {"bind": SUPERSEDED, "richer": PAID}
    assert reversals(db, m) == 2
    assert balances(db, m)[:2] == (100, 101)
