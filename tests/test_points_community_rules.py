"""Seed 004's rules, as written in bot/points/rules.community.example.yaml: the SCRM table's caps
per rule (日积分上限 / 月积分上限 / 月经验上限), Zippo's growth and points that wait (15 days after
an order, points and growth of a post on schedules of their own), and growth capped member-wide.
Each engine call is one committed transaction; days and months are China time."""
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import points
from bot.clock import CST
from bot.points.engine import fire
from bot.points.pending import mature_due
from bot.points.policy import load
from bot.points.purchases import record_purchase
from bot.points.rules_file import parse
from models import Award, LedgerEntry, Member
from models.points import GROWTH, POINTS

COMMUNITY = (Path(__file__).parents[1] / "bot/points/rules.community.example.yaml").read_text()


@pytest.fixture
def do(app):
    def run(action):
        with points.transaction(app) as book:
            return action(book)
    return run


@pytest.fixture
def alice(app, db, do):
    do(lambda book: load(book.db, parse(COMMUNITY)))
    row = Member(phone="13800138000", level="registered")
    db.add(row)
    db.commit()
    return row.id


def travel(clock, *when):
    clock.advance(seconds=(datetime(*when, tzinfo=CST) - clock.now()).total_seconds())


def custom(do, member_id, rule, event):
    return do(lambda book: fire(book, member_id, "custom", "custom", event, rule_code=rule))


def balances(db, member_id):
    db.rollback()
    db.expire_all()
    row = db.get(Member, member_id)
    return row.points, row.growth


def reasons(db, member_id, ledger):
    db.rollback()
    return [(e.delta, e.reason) for e in db.scalars(select(LedgerEntry).where(
        LedgerEntry.member_id == member_id, LedgerEntry.ledger == ledger).order_by(LedgerEntry.id))]


def test_the_file_says_what_the_seed_table_says():
    rules = {r["id"]: r for r in parse(COMMUNITY)["rules"]}
    assert [(rules[c]["points"], rules[c]["growth"], rules[c]["caps"]) for c in
            ("community-post", "community-comment", "community-share")] == [
        (3, 3, {"day": 15, "month": None}),
        (3, 3, {"day": 15, "month": None}),
        (3, 3, {"day": 15, "month": 90, "growth": {"day": None, "month": 90}})]
    assert rules["purchase"]["pending"] == {"points": {"days": 15}, "growth": {"days": 15}}
    assert rules["member-post"]["pending"] == {"points": {"days": 5}, "growth": {"days": 7}}


def test_posts_pay_up_to_the_rules_daily_points_cap_and_growth_keeps_counting(do, db, clock, alice):
    """社区发帖 3 points a post, 日积分上限 15: the sixth post of a day pays no points (its history
    says so) but its growth; the next day starts again. Comments have a cap of their own."""
    travel(clock, 2026, 12, 1, 9)
    for n in range(6):
        custom(do, alice, "community-post", f"p{n}")
    custom(do, alice, "community-comment", "c0")
    assert balances(db, alice) == (18, 21)
    assert reasons(db, alice, GROWTH)[5] == (3, "社区发帖（已达积分上限，实得 0）")
    travel(clock, 2026, 12, 2, 9)
    custom(do, alice, "community-post", "p6")
    assert balances(db, alice) == (21, 24)


def test_shares_stop_at_the_monthly_points_and_growth_caps_and_start_again_next_month(do, db, clock, alice):
    """社区分享: 15 points a day, 90 points and 90 growth a month (growth has no daily cap)."""
    for day in range(1, 8):
        travel(clock, 2026, 12, day, 9)
        for n in range(6):
            custom(do, alice, "community-share", f"d{day}-{n}")
    assert balances(db, alice) == (90, 90)     # growth full on day 5 (5 × 18), points on day 6
    assert (3, "社区分享帖子到朋友圈（已达成长值上限，实得 0）") in reasons(db, alice, POINTS)
    db.rollback()
    last = db.scalars(select(Award).where(Award.member_id == alice).order_by(Award.id.desc())).first()
    assert (last.computed_points, last.points, last.computed_growth, last.growth) == (3, 0, 3, 0)
    travel(clock, 2027, 1, 1, 9)
    custom(do, alice, "community-share", "jan")
    assert balances(db, alice) == (93, 93)


def test_an_order_pays_points_and_growth_fifteen_days_later(app, do, db, clock, alice):
    """Zippo: 10 yuan = 1 point and 1 growth, 15 natural days after the order unless returned."""
    travel(clock, 2026, 12, 1, 20)
    do(lambda book: record_purchase(book, order_id="Z-1", member_id=alice, amount_fen=129900,
                                    paid_at=clock.now(), payment_method="alipay", source="tmall"))
    travel(clock, 2026, 12, 15, 23, 59)
    assert do(lambda book: mature_due(book, book.lock(alice))) == 0
    travel(clock, 2026, 12, 16, 0, 1)
    assert do(lambda book: mature_due(book, book.lock(alice))) == 2
    assert balances(db, alice) == (129, 129)
    db.rollback()
    assert db.get(Member, alice).level == "bronze"


def test_a_posts_growth_matures_on_its_own_schedule(do, db, clock, alice):
    """会员发帖: 2 points after 5 natural days, 5 growth after 5 working days (7 calendar days)."""
    travel(clock, 2026, 12, 1, 9)
    custom(do, alice, "member-post", "m1")
    travel(clock, 2026, 12, 6, 0, 1)
    do(lambda book: mature_due(book, book.lock(alice)))
    assert balances(db, alice) == (2, 0)
    travel(clock, 2026, 12, 8, 0, 1)
    do(lambda book: mature_due(book, book.lock(alice)))
    assert balances(db, alice) == (2, 5)


def test_member_wide_caps_may_cap_growth(do, db, clock):
    """`caps: {growth: {day: N}}` caps growth across all rules, as `caps: {day}` does points."""
    do(lambda book: load(book.db, parse("""
caps: {growth: {day: 10}}
rules:
  - {id: survey, trigger: survey_complete, points: 1, growth: 4}
""")))
    row = Member(phone="13800138001", level="member")
    db.add(row)
    db.commit()
    for n in range(4):
        do(lambda book: fire(book, row.id, "survey_complete", "survey", n))
    assert balances(db, row.id) == (4, 10)
    assert reasons(db, row.id, GROWTH)[-1] == (2, "完成问卷（已达成长值上限，实得 2）")


@pytest.mark.parametrize("rule, error", [
    ("{id: a, trigger: custom, points: 1, pending: {days: 0}}", "rule a: pending.days must be a whole number ≥ 1, not 0"),
    ("{id: a, trigger: custom, points: 1, pending: {until: trip_end}}",
     "rule a: pending: until trip_end needs a purchase rule (orders carry the trip end)"),
    ("{id: a, trigger: purchase, points: 1, pending: {until: delivery}}", "rule a: pending.until must be one of trip_end"),
    ("{id: a, trigger: custom, points: 1, pending: {days: 2, until: trip_end}}", "rule a: pending: give either days or until"),
    ("{id: a, trigger: custom, points: 1, caps: {week: 3}}", "rule a: caps: unknown field 'week' (allowed: day, growth, month)"),
    ("{id: a, trigger: custom, points: 1, caps: {growth: {day: 0}}}", "rule a: caps.growth.day must be a whole number ≥ 1, not 0"),
])
def test_bad_pending_and_caps_name_the_line(rule, error):
    from bot.points.rules_file import RulesError
    with pytest.raises(RulesError) as raised:
        parse(f"rules:\n  - {rule}\n")
    assert raised.value.errors == [(2, error)]


def test_the_cli_shows_caps_pending_and_stages(app, do, db, clock, alice):
    """`points rules` lists each rule's caps and what waits, and the stages; `points show` a
    member's pending points and stage; `points stages` how many members each stage holds."""
    cli = lambda *args: app.test_cli_runner().invoke(args=["points", *args])
    listing = cli("rules").output.splitlines()
    share = next(line for line in listing if line.startswith("community-share"))
    assert share.endswith("caps day 15, month 90; growth day -, month 90")
    assert next(line for line in listing if line.startswith("member-post")).endswith(
        "pending points 5 days, growth 7 days")
    assert next(line for line in listing if line.startswith("purchase")).endswith("pending 15 days")
    assert "stage lost           流失客户: purchased_within_days 720, no_purchase_for_days 360" in listing
    travel(clock, 2026, 12, 1, 20)
    do(lambda book: record_purchase(book, order_id="Z-1", member_id=alice, amount_fen=129900,
                                    paid_at=clock.now(), payment_method="alipay", source="tmall"))
    shown = cli("show", "13800138000").output
    assert "待生效 129 积分，12 月 16 日到账\n待生效 129 成长值，12 月 16 日生效\nstage: 未分组" in shown
    assert "stages: 1 members" in cli("run-daily").output
    assert cli("stages").output.splitlines() == [
        "repeat    复购组    0 members", "first     首购组    1 members",      # by display width:
        "sleeping  沉睡组    0 members", "lost      流失客户  0 members"]      # 流失客户 is 8 columns
