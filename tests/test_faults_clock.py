"""The clock jumping (an NTP correction, a host restored from a snapshot): what is keyed by
time never pays or runs twice. Sign-in is keyed by the China day the clock says; WeChat's
retries are recognised by the push itself, whatever the clock; a matured pending credit is
paid, and a clock that goes back before its day does not pay it again or take it back."""
from datetime import datetime

import pytest
from sqlalchemy import func, select

import workers.points
from bot import points
from bot.clock import CST
from bot.points.policy import load
from bot.points.rules_file import parse
from models import Award, Event, Fan, Integration, LedgerEntry, Member, PendingCredit
from models.points import MATURED
from tests.points_support import SECRET, signed_post

RULES = """
levels:
  tiers:
    - {code: registered, name: 注册会员, growth: 0}
rules:
  - {id: sign-in, trigger: sign_in, title: 每日签到, points: 2, frequency: {count: 1, per: day}}
  - id: tour
    trigger: purchase
    title: 旅游消费
    points: {per: 10, award: 1}
    pending: {until: trip_end}
"""
PHONE = "13800000000"


@pytest.fixture
def member(app, wx, db):
    """Alice follows and is a member; the rules above are loaded."""
    with points.transaction(app) as book:
        load(book.db, parse(RULES))
    wx.follow()
    row = Member(phone=PHONE, level="registered")
    db.add(row)
    db.flush()
    db.scalar(select(Fan).where(Fan.openid == wx.openid)).member_id = row.id
    db.commit()
    return row.id


def at(clock, *when) -> None:
    """Set the clock to a China time, forward or back."""
    clock.advance(seconds=(datetime(*when, tzinfo=CST) - clock.now()).total_seconds())


def balance(db, member_id: int) -> tuple[int, int]:
    """(the member's points, the sum of their ledger), as committed."""
    db.rollback()
    db.expire_all()
    total = db.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
        LedgerEntry.member_id == member_id, LedgerEntry.ledger == "points"))
    return db.get(Member, member_id).points, total


def test_签到_after_the_clock_went_back_across_midnight_is_not_paid_again(wx, db, clock, member):
    """Signed in at 00:01 on the 24th and at 18:00 on the 23rd; the clock goes back to 23:59 on
    the 23rd: that day is already signed, so nothing is paid and the fan is told so."""
    at(clock, 2026, 11, 23, 18, 0)
    assert wx.text("签到") == "每日签到：积分 +2。当前积分 2。"
    at(clock, 2026, 11, 24, 0, 1)
    assert wx.text("签到") == "每日签到：积分 +2。当前积分 4。"
    at(clock, 2026, 11, 23, 23, 59)                            # two minutes back
    assert wx.text("签到") == "今天已经签到过了，明天再来。"
    at(clock, 2026, 11, 24, 0, 2)
    assert wx.text("签到") == "今天已经签到过了，明天再来。"
    assert balance(db, member) == (4, 4)
    assert db.scalar(select(func.count()).select_from(Award)) == 2


def test_a_retry_after_the_clock_went_back_an_hour_is_the_same_push(wx, db, clock, member):
    """WECHAT-PLATFORM.md §2: a retry carries the same MsgId; it is answered with the first
    delivery's reply and stored once, although our clock now reads an hour earlier."""
    push = wx.xml({"MsgType": "text", "Content": "签到", "MsgId": 7_400_000_000_000_000_001})
    first = wx.deliver(push).content
    clock.advance(hours=-1)
    assert wx.deliver(push).content == first == "每日签到：积分 +2。当前积分 2。"
    assert db.scalar(select(func.count()).select_from(Event).where(Event.msg_id == 7_400_000_000_000_000_001)) == 1
    assert balance(db, member) == (2, 2)


def test_a_matured_credit_stays_paid_once_when_the_clock_goes_back_before_its_day(app, db, clock, member):
    """The tour's points wait for its trip end; the clock jumps past that day (the job pays),
    back before it (the job finds nothing due, nothing is taken back), then forward again
    (nothing is paid twice)."""
    db.add(Integration(name="booking", secret=SECRET))
    db.commit()
    tour = {"order_id": "T-1", "phone": PHONE, "amount": "1280.00", "paid_at": "2026-11-23T17:30:00+08:00",
            "payment_method": "wechat", "trip_end": "2026-11-30"}
    response = signed_post(app.test_client(), "/api/purchases", tour, "booking", SECRET, int(clock.timestamp()))
    assert response.status_code in (200, 201), response.get_json()

    def mature() -> int:
        with app.app_context():
            return workers.points.mature_pending()

    at(clock, 2026, 12, 1, 0, 30)                              # the day after the trip: paid
    assert mature() == 1 and balance(db, member) == (128, 128)
    at(clock, 2026, 11, 30, 12, 0)                             # back to the trip's last day
    assert mature() == 0 and balance(db, member) == (128, 128)
    at(clock, 2026, 12, 2, 9, 0)
    assert mature() == 0 and balance(db, member) == (128, 128)
    assert [c.state for c in db.scalars(select(PendingCredit))] == [MATURED]
