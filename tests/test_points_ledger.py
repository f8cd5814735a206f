"""The points engine as a specification (issue #3): exclusive groups, seasons and rule versions,
frequency, caps, spends, expiry, levels, and what members are told. Each engine call is one
committed transaction (bot/points `transaction`); days, weeks and months are China time."""
from datetime import date, datetime
from itertools import permutations
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import points
from bot.clock import CST
from bot.points.engine import NotEnoughPoints, adjust, expire_due, fire, reverse, spend
from bot.points.levels import RECALCULATION, settle_level
from bot.points.policy import load
from bot.points.rules_file import parse
from models import Award, LedgerEntry, LevelChange, Member, PointsLot
from models.points import ADJUST, EXPIRE, LIMITED, OUTRANKED, PAID, POINTS, REVERSE, SUPERSEDED

EXAMPLE = (Path(__file__).parents[1] / "bot/points/rules.example.yaml").read_text()
LEVELS = """
levels:
  tiers: [{code: registered, name: 注册会员, growth: 0}, {code: bronze, name: 铜牌会员, growth: 100}]
"""


def rules_file(rules: str, caps: str = "{}", expiry: str = "{policy: none}", window: str = "",
               groups: str = "{}") -> str:
    """A small rules file: the two first levels, `rules` as YAML flow mappings, one per line."""
    levels = LEVELS + (f"  downgrade_window_months: {window}\n" if window else "")
    body = "".join(f"  - {rule.strip()}\n" for rule in rules.strip().splitlines())
    return f"{levels}caps: {caps}\nexpiry: {expiry}\ngroups: {groups}\nrules:\n{body}"


def cst(*args) -> datetime:
    return datetime(*args, tzinfo=CST)


def travel(clock, when: datetime) -> None:
    clock.advance(seconds=(when - clock.now()).total_seconds())


def on(book, award_id: int) -> Award:
    return book.db.get(Award, award_id)


def expiring(member_id: int):
    return lambda book: expire_due(book, book.lock(member_id))


def balances(db, member_id: int) -> tuple[int, int, str]:
    db.rollback()
    row = db.get(Member, member_id)
    return row.points, row.growth, row.level


def entries(db, member_id: int, ledger: str = POINTS) -> list[LedgerEntry]:
    db.rollback()
    return list(db.scalars(select(LedgerEntry).where(LedgerEntry.member_id == member_id,
                                                     LedgerEntry.ledger == ledger).order_by(LedgerEntry.id)))


def lots(db, member_id: int) -> list[int]:
    db.rollback()
    return list(db.scalars(select(PointsLot.remaining).where(PointsLot.member_id == member_id)
                           .order_by(PointsLot.id)))


def level_changes(db, member_id: int) -> list[tuple[str, str, str]]:
    db.rollback()
    return [(c.from_level, c.to_level, c.cause) for c in db.scalars(
        select(LevelChange).where(LevelChange.member_id == member_id).order_by(LevelChange.id))]


SEED = {"bind": (("bind", "member", "1"), {}),                 # 100 points, 100 growth
        "birthday": (("birthday", "birthday", 2026), {}),       # 200 points, 20 growth
        "purchase": (("purchase", "purchase", "A1"), {"amount_fen": 300_000, "payment": "wechat"})}
SIZE = {"bind": 100, "birthday": 200, "purchase": 300}          # 3,000 yuan: 300 points


@pytest.mark.parametrize("order", list(permutations(SEED)), ids="-".join)
def test_seed_example_only_the_largest_award_of_the_day_stands(rules, member, do, db, clock, order):
    """Issue #3 seed: bind, birthday and a purchase on one CST day, in any order: only the
    largest stands; a smaller one that had paid is reversed, one that came after a larger is
    outranked and never paid."""
    rules(EXAMPLE)
    m = member(birthday=date(1990, 11, 23))
    for name in order:
        args, kwargs = SEED[name]
        do(fire, m, *args, **kwargs)
        clock.advance(hours=1)                   # 18:00, 19:00, 20:00 CST: one day

    db.rollback()
    group = {a.rule_code: a for a in db.scalars(select(Award).where(Award.member_id == m,
                                                                    Award.group == "welcome-day"))}
    seen = []
    for name in order:
        expected = PAID if name == "purchase" else SUPERSEDED if SIZE[name] > max(seen, default=0) \
            else OUTRANKED
        seen.append(SIZE[name])
        assert group[name].status == expected, name
        reversed_ = [e.delta for e in db.scalars(select(LedgerEntry).where(
            LedgerEntry.award_id == group[name].id, LedgerEntry.kind == REVERSE))]
        assert reversed_ == ([-SIZE[name], -100 if name == "bind" else -20] if expected == SUPERSEDED else [])
    assert balances(db, m) == (300 + 150, 3000, "bronze")     # + the winter bonus, outside the group


@pytest.mark.parametrize("when, pays", [(cst(2026, 10, 31, 23, 59, 59), False), (cst(2026, 11, 1), True),
                                        (cst(2027, 2, 28, 23, 59, 59), True), (cst(2027, 3, 1), False)],
                         ids=["day-before", "first-day", "last-day", "day-after"])
def test_a_seasonal_rule_pays_on_both_boundary_days_and_not_outside(rules, member, do, db, when, pays):
    """Issue #3: winter-purchase-bonus (2026-11-01..2027-02-28, CST) pays only inside its window."""
    rules(EXAMPLE)
    m = member()
    awards = do(fire, m, "purchase", "purchase", "W1", occurred_at=when, amount_fen=10_000,
                rule_code="winter-purchase-bonus")
    assert [(a.rule_code, a.points) for a in awards] == ([("winter-purchase-bonus", 5)] if pays else [])
    assert balances(db, m)[0] == (5 if pays else 0)


def test_a_rule_edit_is_a_new_version_and_never_pays_an_event_again(rules, member, do, db):
    """Issue #3: a changed rule becomes version 2; entries keep the version that paid them; the
    event the old version paid is not paid again by the new one."""
    rules(EXAMPLE)
    m = member()
    do(fire, m, "survey_complete", "survey", "S1")
    report = rules(EXAMPLE.replace("title: 完成问卷\n    points: 20", "title: 完成问卷\n    points: 30"))
    assert (report.changed, report.added, report.retired) == (["survey v2"], [], [])

    again = do(fire, m, "survey_complete", "survey", "S1")
    do(fire, m, "survey_complete", "survey", "S2")
    assert [(a.points, a.status) for a in again] == [(20, PAID)]
    assert [(e.source_id, e.delta, e.rule_version) for e in entries(db, m)] == [("S1", 20, 1), ("S2", 30, 2)]
    assert balances(db, m)[0] == 50


FREQUENCY = rules_file("""
    {id: once, trigger: custom, points: 1, frequency: once}
    {id: daily, trigger: custom, points: 1, frequency: {count: 2, per: day}}
    {id: weekly, trigger: custom, points: 1, frequency: {count: 2, per: week}}
    {id: monthly, trigger: custom, points: 1, frequency: {count: 2, per: month}}
""")


@pytest.mark.parametrize("rule, start, last, next_start", [
    ("daily", cst(2026, 11, 23), cst(2026, 11, 23, 23, 59, 59), cst(2026, 11, 24)),
    ("weekly", cst(2026, 11, 23), cst(2026, 11, 29, 23, 59, 59), cst(2026, 11, 30)),   # Monday..Sunday
    ("monthly", cst(2026, 11, 1), cst(2026, 11, 30, 23, 59, 59), cst(2026, 12, 1))],
    ids=["day", "week", "month"])
def test_n_per_period_pays_n_times_then_nothing_until_the_next_cst_period(rules, member, do, db, rule,
                                                                          start, last, next_start):
    """Issue #3: frequency N per day/week/month counts by China-time periods (weeks from Monday);
    a LIMITED award pays nothing and writes no entry."""
    rules(FREQUENCY)
    m = member()
    statuses = [do(fire, m, "custom", "event", f"e{n}", occurred_at=at, rule_code=rule)[0]
                for n, at in enumerate([start, last, last, next_start])]
    assert [(a.status, a.points) for a in statuses] == [(PAID, 1), (PAID, 1), (LIMITED, 0), (PAID, 1)]
    assert [e.source_id for e in entries(db, m)] == ["e0", "e1", "e3"]


def test_once_means_once_ever(rules, member, do, db, clock):
    """Issue #3: frequency once pays one event of the rule, ever (a second follow, a year later)."""
    rules(FREQUENCY)
    m = member()
    first = do(fire, m, "custom", "fan", "1", rule_code="once")
    clock.advance(days=400)
    second = do(fire, m, "custom", "fan", "2", rule_code="once")
    assert [(a.status, a.points) for a in first + second] == [(PAID, 1), (LIMITED, 0)]
    assert balances(db, m)[0] == 1


CAPS = rules_file("""
    {id: big, trigger: custom, title: 大奖, points: 60}
    {id: other, trigger: custom, title: 另一奖, points: 60}
""", caps="{day: 100, month: 250}")


def test_the_daily_cap_across_rules_clamps_the_award_and_says_so(rules, member, do, db):
    """Issue #3: per-member caps count all rules; the clamped entry's reason gives what was paid."""
    rules(CAPS)
    m = member()
    paid = [do(fire, m, "custom", "event", f"e{n}", rule_code=code)[0]
            for n, code in enumerate(["big", "other", "big"])]
    assert [(a.status, a.computed_points, a.points) for a in paid] == [(PAID, 60, 60), (PAID, 60, 40),
                                                                      (PAID, 60, 0)]
    assert [e.reason for e in entries(db, m)] == ["大奖", "另一奖（已达积分上限，实得 40）"]
    assert balances(db, m)[0] == 100


def test_the_monthly_cap_clamps_across_days_and_a_new_month_starts_afresh(rules, member, do, db):
    """Issue #3: 100 a day, 250 a month (CST months)."""
    rules(CAPS)
    m = member()
    paid = []
    for day in (1, 2, 3, 4):
        for code in ("big", "other"):
            paid += do(fire, m, "custom", "event", f"{day}-{code}", occurred_at=cst(2026, 11, day, 12),
                       rule_code=code)
    paid += do(fire, m, "custom", "event", "dec", occurred_at=cst(2026, 12, 1), rule_code="big")
    assert [a.points for a in paid] == [60, 40, 60, 40, 50, 0, 0, 0, 60]


def test_a_reversal_frees_cap_room(rules, member, do, db):
    """Caps count what was earned net of reversals."""
    rules(CAPS)
    m = member()
    first = do(fire, m, "custom", "event", "e1", rule_code="big")[0]
    do(fire, m, "custom", "event", "e2", rule_code="other")
    do(lambda book: reverse(book, on(book, first.id), 60, 0, cause="R1", reason="退回"))
    assert do(fire, m, "custom", "event", "e3", rule_code="big")[0].points == 60
    assert balances(db, m)[0] == 100


def test_an_award_cut_by_the_cap_still_outranks_a_smaller_one_of_its_group(rules, member, do, db):
    """Issue #3 §3: the largest award stands even when the day's cap let it pay no points; a
    smaller award later that day must not reverse its growth."""
    rules(rules_file("""
        {id: gift, trigger: custom, points: 100}
        {id: purchase, trigger: purchase, points: {per: 10, award: 1}, growth: {per: 1, award: 1}, group: day}
        {id: bind, trigger: bind, points: 50, growth: 30, group: day}
    """, caps="{day: 100}", groups="{day: {window: day}}"))
    m = member()
    do(fire, m, "custom", "event", "e1", rule_code="gift")
    order = do(fire, m, "purchase", "purchase", "A1", amount_fen=300_000)[0]
    assert (order.status, order.computed_points, order.points, order.growth) == (PAID, 300, 0, 3000)
    bind = do(fire, m, "bind", "member", "1")[0]
    assert bind.status == OUTRANKED
    assert balances(db, m) == (100, 3000, "bronze")


EARN20 = "{id: earn, trigger: custom, points: 20}"


def test_spends_draw_the_soonest_expiring_points_first(rules, member, do, db):
    """Issue #3: spends consume the points that expire soonest (never-expiring ones last), not the
    oldest earned: a later, shorter expiry policy makes newer points go first."""
    m = member()
    for n, expiry in enumerate(["{policy: months, months: 6}", "{policy: months, months: 1}",
                                "{policy: none}"]):
        rules(rules_file(EARN20, expiry=expiry))
        do(fire, m, "custom", "event", f"e{n}", rule_code="earn")
    do(spend, m, 30, "order", "M1", "商城兑换")
    assert lots(db, m) == [10, 0, 20]
    do(spend, m, 15, "order", "M2", "商城兑换")
    assert lots(db, m) == [0, 0, 15]


def test_a_spend_beyond_the_balance_is_refused_and_changes_nothing(rules, member, do, db):
    """Issue #3: a balance never goes negative; NotEnoughPoints says what there is."""
    rules(rules_file(EARN20))
    m = member()
    do(fire, m, "custom", "event", "e1", rule_code="earn")
    with pytest.raises(NotEnoughPoints) as refused:
        do(spend, m, 21, "order", "M1", "商城兑换")
    assert refused.value.balance == 20
    assert (balances(db, m)[0], lots(db, m), len(entries(db, m))) == (20, [20], 1)


def test_a_spend_is_made_once_per_source(rules, member, do, db):
    """Issue #3: the same spend retried (same source) spends once."""
    rules(rules_file(EARN20))
    m = member()
    do(fire, m, "custom", "event", "e1", rule_code="earn")
    first, again = do(spend, m, 5, "order", "M1", "商城兑换"), do(spend, m, 5, "order", "M1", "商城兑换")
    assert first.id == again.id
    assert balances(db, m)[0] == 15


def test_a_spend_source_used_by_another_member_is_refused(rules, member, do, db):
    """Issue #3: a spend is once per source; the same source for a second member must not answer
    with the first member's entry as if the second had spent."""
    rules(rules_file(EARN20))
    alice, bob = member("13800138000"), member("13900139000")
    for m in (alice, bob):
        do(fire, m, "custom", "event", "e1", rule_code="earn")
    do(spend, alice, 5, "order", "M1", "商城兑换")
    with pytest.raises(ValueError):
        do(spend, bob, 5, "order", "M1", "商城兑换")
    assert (balances(db, alice)[0], balances(db, bob)[0]) == (15, 20)


def test_adjustments_record_the_operator_and_never_go_negative(rules, member, do, db):
    """Issue #3 §8: an operator adds or removes points, audited, once per key; never below zero."""
    rules(rules_file(EARN20))
    m = member()
    do(adjust, m, 30, "客服补偿", "ops-li", "T1")
    do(adjust, m, 30, "客服补偿", "ops-li", "T1")              # the same key again
    do(adjust, m, -10, "误发扣回", "ops-wang", "T2")
    with pytest.raises(NotEnoughPoints):
        do(adjust, m, -21, "误发扣回", "ops-wang", "T3")
    assert [(e.kind, e.delta, e.actor, e.reason) for e in entries(db, m)] == [
        (ADJUST, 30, "ops-li", "客服补偿"), (ADJUST, -10, "ops-wang", "误发扣回")]
    assert balances(db, m)[0] == 20


def test_expire_due_expires_exactly_the_lots_whose_time_has_come(rules, member, do, db, clock):
    """Issue #3: points earned 2026-11-23 18:00 CST with a one-month expiry expire at
    2026-12-23 18:00 CST, not a second before; later points stay."""
    rules(rules_file(EARN20, expiry="{policy: months, months: 1}"))
    m = member()
    do(fire, m, "custom", "event", "e1", rule_code="earn")
    clock.advance(days=1)
    do(fire, m, "custom", "event", "e2", rule_code="earn")
    travel(clock, cst(2026, 12, 23, 17, 59, 59))
    assert do(expiring(m)) == 0
    travel(clock, cst(2026, 12, 23, 18))
    assert do(expiring(m)) == 20
    assert lots(db, m) == [0, 20]
    assert [(e.kind, e.delta, e.reason) for e in entries(db, m)][-1] == (EXPIRE, -20, "2026-11-23 获得的积分到期")
    assert do(expiring(m)) == 0


def test_reversing_an_award_whose_points_were_spent_takes_only_what_is_left(rules, member, do, db):
    """Issue #3: points already spent stay spent; the reversal takes the rest (never below zero)
    and its reason says what it should have taken."""
    rules(rules_file("{id: big, trigger: custom, points: 100}"))
    m = member()
    award = do(fire, m, "custom", "order", "A1", rule_code="big")[0]
    do(spend, m, 70, "order", "M1", "商城兑换")
    taken = do(lambda book: reverse(book, on(book, award.id), 100, 0, cause="refund:R1", reason="订单退款"))
    assert taken == (30, 0)
    assert (entries(db, m)[-1].delta, entries(db, m)[-1].reason) == (-30, "订单退款（应扣 100，余额不足，实扣 30）")
    assert (balances(db, m)[0], lots(db, m)) == (0, [0])


def test_reversing_an_award_whose_points_expired_takes_none_of_the_newer_points(rules, member, do, db, clock):
    """Issue #3: expired points left the balance once; reversing their award later (a refund after
    expiry) must not take them a second time out of points earned since."""
    rules(rules_file("{id: big, trigger: custom, points: 100}", expiry="{policy: months, months: 1}"))
    m = member()
    award = do(fire, m, "custom", "order", "A1", rule_code="big")[0]
    clock.advance(days=40)
    do(expiring(m))
    do(fire, m, "custom", "order", "A2", rule_code="big")
    taken = do(lambda book: reverse(book, on(book, award.id), 100, 0, cause="refund:R1", reason="订单退款"))
    assert (taken, balances(db, m)[0]) == ((0, 0), 100)


def test_growth_raises_the_level_and_its_reversal_lowers_it(rules, member, do, db):
    """Issue #3 §4: levels by growth, a LevelChange row for each move, a notice for each."""
    rules(EXAMPLE)
    m = member()
    bind = do(fire, m, "bind", "member", "1")[0]
    assert do.notices[-1] == (m, "恭喜！您已升级为「铜牌会员」。")
    do(lambda book: reverse(book, on(book, bind.id), 0, 100, cause="unbind", reason="解除绑定"))
    assert do.notices == [(m, "您的会员等级已调整为「注册会员」。")]
    assert balances(db, m) == (100, 0, "registered")
    assert level_changes(db, m) == [("registered", "bronze", "growth"), ("bronze", "registered", "reversal")]


def test_a_transaction_that_reverses_and_regrows_tells_the_net_level_change_once(rules, member, do, db):
    """Issue #3 §3/§4: bind then a larger purchase in one transaction moves the level down and up;
    every move is recorded, the member hears of the net change once."""
    rules(EXAMPLE)
    m = member()
    do(lambda book: [fire(book, m, "bind", "member", "1"),
                     fire(book, m, "purchase", "purchase", "A1", amount_fen=300_000, payment="wechat")])
    assert [text for _, text in do.notices if "等级" in text or "升级" in text] == ["恭喜！您已升级为「铜牌会员」。"]
    assert level_changes(db, m) == [("registered", "bronze", "growth"), ("bronze", "registered", "reversal"),
                                    ("registered", "bronze", "growth")]


def test_recalculation_with_a_downgrade_window_counts_only_recent_growth(rules, member, do, db, clock):
    """Issue #3 §4: with downgrade_window_months 12, growth older than 12 months no longer holds
    the level when the levels are recalculated."""
    rules(rules_file("{id: grow, trigger: custom, growth: 150}", window="12"))
    m = member()
    do(fire, m, "custom", "event", "e1", rule_code="grow")
    recalculate = lambda book: settle_level(book, book.lock(m), RECALCULATION)
    clock.advance(days=360)
    do(recalculate)
    assert (balances(db, m)[2], do.notices) == ("bronze", [])
    clock.advance(days=10)
    do(recalculate)
    assert do.notices == [(m, "您的会员等级已调整为「注册会员」。")]
    assert level_changes(db, m) == [("registered", "bronze", "growth"),
                                    ("bronze", "registered", "recalculation")]


def test_notices_say_what_was_earned_reversed_and_expired(rules, member, do, db, clock):
    """Issue #3 §7: every change a member cares about is told, with the balance after it."""
    rules(EXAMPLE)
    m = member()
    do(fire, m, "follow", "fan", "1")
    assert do.notices == [(m, "关注公众号：积分 +10。当前积分 10。")]
    bind = do(fire, m, "bind", "member", "1")[0]
    assert do.notices == [(m, "注册会员：积分 +100，成长值 +100。当前积分 110。"), (m, "恭喜！您已升级为「铜牌会员」。")]
    do(lambda book: reverse(book, on(book, bind.id), 100, 0, cause="unbind", reason="解除绑定"))
    assert do.notices == [(m, "解除绑定：扣回 100 积分。当前积分 10。")]
    travel(clock, cst(2028, 1, 1))                  # earned in 2026: expires at the end of 2027
    do(expiring(m))
    assert do.notices == [(m, "10 积分已到期。当前积分 0。")]
