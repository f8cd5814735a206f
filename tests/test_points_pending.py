"""Points that wait for the trip (bot/points/pending.py) in a chat transcript: the booking system
reports a tour with its trip_end, the member sees "待生效 … 到账" in 积分, the maturing job pays it
on that day (once, however often it runs), and only then can it be spent; a refund before the
day cancels it without the balance ever moving; after the day a refund reverses as always."""
from datetime import datetime

import pytest
from sqlalchemy import func, select

import workers.points
from bot import points
from bot.clock import CST
from bot.points.engine import NotEnoughPoints, spend
from bot.points.policy import load
from bot.points.rules_file import parse
from models import Fan, Integration, LedgerEntry, Member, PendingCredit
from models.points import CANCELLED, MATURED, WAITING
from points_support import SECRET, signed_post

PHONE = "13800000000"
RULES = """
levels:
  tiers:
    - {code: registered, name: 注册会员, growth: 0}
    - {code: bronze, name: 铜牌会员, growth: 100}
    - {code: silver, name: 银牌会员, growth: 4000}
rules:
  - id: tour
    trigger: purchase
    title: 旅游消费
    points: {per: 10, award: 1}
    growth: {per: 1, award: 1}
    pending: {until: trip_end}
"""
TOUR = {"order_id": "T-1", "phone": PHONE, "amount": "1280.00", "paid_at": "2026-11-23T17:30:00+08:00",
        "payment_method": "wechat", "trip_end": "2027-07-14"}


@pytest.fixture
def api(app, db, clock):
    db.add(Integration(name="booking", secret=SECRET))
    db.commit()
    with points.transaction(app) as book:
        load(book.db, parse(RULES))
    client = app.test_client()
    return lambda path, body: signed_post(client, path, body, "booking", SECRET, int(clock.timestamp()))


@pytest.fixture
def member(wx, db):
    """Alice follows and is a member with the tour's phone."""
    wx.follow()
    row = Member(phone=PHONE, level="registered")
    db.add(row)
    db.flush()
    db.scalar(select(Fan).where(Fan.openid == wx.openid)).member_id = row.id
    db.commit()
    return row.id


def at(clock, *when):
    clock.advance(seconds=(datetime(*when, tzinfo=CST) - clock.now()).total_seconds())


def mature(app) -> int:
    with app.app_context():
        return workers.points.mature_pending()


def state(db, member_id):
    """(points, growth, level, ledger entries, credit states) as committed."""
    db.rollback()
    db.expire_all()
    row = db.get(Member, member_id)
    entries = db.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.member_id == member_id))
    credits = sorted(db.scalars(select(PendingCredit.state).where(PendingCredit.member_id == member_id)))
    return row.points, row.growth, row.level, entries, credits


def spendable(app, member_id, amount) -> bool:
    try:
        with points.transaction(app) as book:
            spend(book, member_id, amount, "mall", f"probe-{amount}", "商城兑换")
        return True
    except NotEnoughPoints:
        return False


def test_a_tour_pays_pending_shows_its_date_matures_on_that_day_and_spends_after(app, api, wx, db, jobs, clock, member, world):
    answer = api("/api/purchases", TOUR)
    assert answer.status_code == 201
    assert answer.json == {"order_id": "T-1", "points": 128, "growth": 1280, "balance": 0, "replayed": False,
                           "pending_points": 128, "pending_until": "2027-07-15"}
    jobs.run_all()
    told = world.messages_to(wx.account.appid, wx.openid)[-1]["content"]
    assert told == "旅游消费：积分 +128（待生效，7 月 15 日到账），成长值 +1280（待生效，7 月 15 日到账）。当前积分 0。"
    assert wx.text("积分") == "\n".join([
        "当前积分：0",
        "会员等级：注册会员（成长值 0）",
        "再获得 100 成长值可升级为「铜牌会员」",
        "待生效 128 积分，7 月 15 日到账",
        "待生效 1280 成长值，7 月 15 日生效"])
    assert not spendable(app, member, 1)                      # pending never spends
    assert state(db, member) == (0, 0, "registered", 0, [WAITING, WAITING])

    at(clock, 2027, 7, 14, 23, 59)                            # the last day of the trip: still waiting
    assert mature(app) == 0
    assert state(db, member)[3:] == (0, [WAITING, WAITING])

    at(clock, 2027, 7, 15, 0, 5)                              # the day after: paid, once
    assert mature(app) == 1
    assert mature(app) == 0
    assert state(db, member) == (128, 1280, "bronze", 2, [MATURED, MATURED])
    reply = wx.text("积分")
    assert "待生效的 128 积分、1280 成长值已到账。当前积分 128。" in reply
    assert "恭喜！您已升级为「铜牌会员」。" in reply
    assert reply.endswith("\n".join([
        "当前积分：128",
        "会员等级：铜牌会员（成长值 1280）",
        "再获得 2720 成长值可升级为「银牌会员」",
        "",
        "最近明细：",
        "07-15 +128 旅游消费（到账）",
        "回复“积分明细”查看更多"]))
    assert spendable(app, member, 100)


def test_a_refund_before_the_trip_cancels_it_and_leaves_no_trace_on_the_balance(app, api, wx, db, jobs, clock, member, world):
    api("/api/purchases", TOUR)
    at(clock, 2027, 3, 1, 9)
    answer = api("/api/purchases/T-1/refund", {"refund_id": "R-1"})
    assert answer.status_code == 201
    assert answer.json == {"order_id": "T-1", "refund_id": "R-1", "points_reversed": 0, "growth_reversed": 0,
                           "points_cancelled": 128, "replayed": False}
    assert api("/api/purchases/T-1/refund", {"refund_id": "R-1"}).json["points_cancelled"] == 128   # replay
    assert state(db, member) == (0, 0, "registered", 0, [CANCELLED, CANCELLED])   # not one ledger entry
    assert "订单 T-1 退款：待生效的 128 积分、1280 成长值已取消。当前积分 0。" in wx.text("积分")
    assert "待生效" not in wx.text("积分")
    at(clock, 2027, 7, 15, 1)
    assert mature(app) == 0
    assert state(db, member) == (0, 0, "registered", 0, [CANCELLED, CANCELLED])


def test_a_part_refund_before_the_trip_pays_the_rest_on_the_day(app, api, wx, db, clock, member):
    api("/api/purchases", TOUR)
    assert api("/api/purchases/T-1/refund", {"refund_id": "R-1", "amount": "640.00"}).json["points_cancelled"] == 64
    assert "待生效 64 积分，7 月 15 日到账" in wx.text("积分")
    at(clock, 2027, 7, 15, 1)
    assert mature(app) == 1
    assert state(db, member)[:2] == (64, 640)


def test_after_the_trip_a_refund_reverses_through_the_ledger(app, api, wx, db, clock, member):
    api("/api/purchases", TOUR)
    at(clock, 2027, 7, 16, 12)
    mature(app)
    answer = api("/api/purchases/T-1/refund", {"refund_id": "R-1", "amount": "640.00"})
    assert (answer.json["points_reversed"], answer.json["growth_reversed"]) == (64, 640)
    assert "points_cancelled" not in answer.json
    assert state(db, member) == (64, 640, "bronze", 4, [MATURED, MATURED])


def test_an_order_without_a_trip_end_pays_at_once(app, api, db, member):
    answer = api("/api/purchases", {**TOUR, "trip_end": None})
    assert (answer.json["points"], answer.json["balance"]) == (128, 128)
    assert "pending_points" not in answer.json
    assert state(db, member)[4] == []


@pytest.mark.parametrize("trip_end, message", [
    ("2027-13-01", "trip_end must be a China date like 2027-07-14"),
    (20270714, "trip_end must be a China date like 2027-07-14"),
    ("2026-11-22", "trip_end is before paid_at: a trip ends after it is paid"),
])
def test_a_bad_trip_end_is_refused_and_pays_nothing(app, api, db, member, trip_end, message):
    answer = api("/api/purchases", {**TOUR, "trip_end": trip_end})
    assert answer.status_code == 400 and answer.json == {"error": "invalid_field", "message": message}
    assert state(db, member) == (0, 0, "registered", 0, [])


def test_the_same_order_with_another_trip_end_is_a_duplicate(app, api, member):
    assert api("/api/purchases", TOUR).status_code == 201
    assert api("/api/purchases", TOUR).json["replayed"] is True
    answer = api("/api/purchases", {**TOUR, "trip_end": "2027-08-01"})
    assert answer.status_code == 409 and answer.json["error"] == "duplicate_order"


def test_with_a_downgrade_window_matured_growth_counts_from_the_day_it_matured(app, api, wx, db, clock, member):
    """Levels count matured growth only, dated by when it matured: a tour bought in November
    and taken in July still counts towards the level the next May (a 10-month window)."""
    with points.transaction(app) as book:
        load(book.db, parse(RULES.replace("rules:\n", "  downgrade_window_months: 10\nrules:\n", 1)))
    api("/api/purchases", TOUR)
    at(clock, 2027, 7, 15, 1)
    mature(app)
    at(clock, 2028, 5, 1, 4)
    with app.app_context():
        workers.points.recalculate_levels()
    assert state(db, member)[2] == "bronze"
    at(clock, 2028, 5, 16, 4)                                 # ten months after it matured
    with app.app_context():
        workers.points.recalculate_levels()
    assert state(db, member)[2] == "registered"


def test_imported_orders_may_carry_a_trip_end(app, api, db, member, tmp_path):
    """`points import-purchases` takes an optional trip_end column, checked like the API's."""
    path = tmp_path / "orders.csv"
    path.write_text("order_id,phone,amount,paid_at,payment_method,trip_end\n"
                    f"T-1,{PHONE},1280.00,2026-11-23 17:30:00,wechat,2027-07-14\n"
                    f"T-2,{PHONE},100.00,2026-11-23 17:30:00,wechat,\n"
                    f"T-3,{PHONE},100.00,2026-11-23 17:30:00,wechat,2026-11-01\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["points", "import-purchases", str(path), "--skip-bad"])
    assert "orders.csv:4: trip_end '2026-11-01' is not a date like 2027-07-14 on or after paid_at" in result.output
    assert "2 orders recorded, 138 points awarded" in result.output
    assert state(db, member)[0] == 10 and state(db, member)[4] == [WAITING, WAITING]


def test_积分_on_the_day_pays_what_is_due_before_the_hourly_job(app, api, wx, db, clock, member):
    """Between midnight and the hourly job, 积分 pays what matured and shows it spendable; the
    job then finds nothing to do. A spend (the mall) pays what is due first as well."""
    api("/api/purchases", TOUR)
    at(clock, 2027, 7, 15, 0, 1)
    reply = wx.text("积分")
    assert "待生效的 128 积分、1280 成长值已到账。当前积分 128。" in reply and "当前积分：128" in reply
    assert "待生效" not in reply.split("当前积分：128")[1]
    assert mature(app) == 0
    api("/api/purchases", {**TOUR, "order_id": "T-2", "trip_end": "2027-07-20", "paid_at": "2027-07-15T00:00:30+08:00"})
    at(clock, 2027, 7, 21, 0, 1)
    assert spendable(app, member, 250)
    assert state(db, member)[0] == 128 + 128 - 250
