"""Points in the chat (issue #3 §7): "积分", the MY_POINTS menu key, "积分明细" and "签到" through
the real webhook, the follow rule, and how members who are not the sender hear of a change
(the outbound policy of DESIGN.md: a customer-service message while a window is open, else the
next passive reply, WECHAT-PLATFORM.md §4.7)."""
import itertools

import pytest
from sqlalchemy import func, select

from bot import points
from bot.points.engine import adjust
from bot.points.policy import load
from bot.points.purchases import record_purchase
from bot.points.rules_file import parse
from bot.sandbox.phone import sandbox_openid
from handlers.common import FALLBACK
from handlers.points import NOT_A_MEMBER
from menus.definition import MenuKey
from models import Award, Fan, LedgerEntry, Member, OutboundMessage, PointsLot
from models.outbound import PENDING, SENT
from tests.conftest import WELCOME

RULES = """
levels:
  tiers:
    - {code: registered, name: 注册会员, growth: 0}
    - {code: bronze, name: 铜牌会员, growth: 100}
    - {code: silver, name: 银牌会员, growth: 4000}
expiry: {policy: end_of_year, years: 1, remind_days: 7}
rules:
  - {id: follow, trigger: follow, title: 关注公众号, points: 10, frequency: once}
  - {id: sign-in, trigger: sign_in, title: 每日签到, points: 2, frequency: {count: 1, per: day}}
  - id: purchase
    trigger: purchase
    title: 消费
    points: {per: 10, award: 1}
    growth: {per: 1, award: 1}
"""
PHONES = (f"1380000{n:04d}" for n in itertools.count(1))
SUB = dict(slug="sub", type="service", verified=True, appid="wx5ub0000000000002", secret="sub-secret",
           token="subtoken", original_id="gh_5ub000000002", name="分店", welcome_text="欢迎关注分店！")


@pytest.fixture(autouse=True)
def rules(app):
    with points.transaction(app) as book:
        load(book.db, parse(RULES))


def member_of(db, *people, **fields) -> Member:
    """A member linked to the fan rows of `people` (each has pushed at least once)."""
    member = Member(phone=next(PHONES), level="registered", **fields)
    db.add(member)
    db.flush()
    for person in people:
        db.scalar(select(Fan).where(Fan.openid == person.openid)).member_id = member.id
    db.commit()
    return member


def fresh(db, member: Member) -> Member:
    db.rollback()
    db.expire_all()
    return db.get(Member, member.id)


def ledger_sum(db, member: Member) -> int:
    return db.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
        LedgerEntry.member_id == member.id, LedgerEntry.ledger == "points"))


def outbound(db, openid: str) -> list[tuple[str, str]]:
    db.rollback()
    db.expire_all()
    return [(row.status, row.content) for row in db.scalars(
        select(OutboundMessage).where(OutboundMessage.openid == openid).order_by(OutboundMessage.id))]


def buy(app, clock, member: Member, order_id: str, yuan: int) -> None:
    with points.transaction(app) as book:
        record_purchase(book, order_id=order_id, member_id=member.id, amount_fen=yuan * 100,
                        paid_at=clock.now(), payment_method="wechat", source="api")


def give(app, member: Member, *reasons: str, each: int = 1) -> None:
    """One adjustment per reason, in order, in one transaction."""
    with points.transaction(app) as book:
        for reason in reasons:
            adjust(book, member.id, each, reason, "test", reason)


@pytest.mark.parametrize("ask", [lambda p: p.text("积分"), lambda p: p.text("我的积分"),
                                 lambda p: p.click(MenuKey.MY_POINTS), lambda p: p.text("积分明细"),
                                 lambda p: p.text("签到")],
                         ids=["积分", "我的积分", "MY_POINTS", "积分明细", "签到"])
def test_a_fan_who_is_not_a_member_is_offered_binding(wx, db, ask):
    """Issue #3 "Must show": a fan who is not a member asking for points is offered binding."""
    wx.follow()
    assert ask(wx) == NOT_A_MEMBER
    assert db.scalar(select(func.count()).select_from(Award)) == 0


def test_a_new_member_sees_an_empty_account_and_the_way_up(wx, db):
    """§7: a member with no entries sees 0 points, the first level and the growth to the next."""
    wx.follow()
    member_of(db, wx)
    assert wx.text("积分") == "当前积分：0\n会员等级：注册会员（成长值 0）\n再获得 100 成长值可升级为「铜牌会员」"
    assert wx.text("积分明细") == "还没有积分记录。回复“帮助”看看怎样获得积分。"


def test_积分_shows_balance_level_growth_to_go_next_expiry_and_the_last_five(app, wx, db, jobs, clock):
    """§7: balance, level name, growth to the next level, the next expiry (end of 2027 for 2026
    points, years: 1) and the newest five entries with their reasons, newest first."""
    wx.follow()
    member = member_of(db, wx)
    buy(app, clock, member, "A-1", 150)                        # 15 points, 150 growth: bronze
    give(app, member, "问卷一", "问卷二", "问卷三", "问卷四", "问卷五", each=3)
    jobs.run_all()                                             # those notices went out already
    assert wx.click(MenuKey.MY_POINTS) == wx.text("积分") == "\n".join([
        "当前积分：30",
        "会员等级：铜牌会员（成长值 150）",
        "再获得 3850 成长值可升级为「银牌会员」",
        "其中 30 积分有效期至 2027-12-31",
        "",
        "最近明细：",
        "11-23 +3 问卷五", "11-23 +3 问卷四", "11-23 +3 问卷三", "11-23 +3 问卷二", "11-23 +3 问卷一",
        "回复“积分明细”查看更多"])
    assert "消费" not in wx.text("积分")


def test_积分明细_lists_the_newest_twenty(app, wx, db, jobs):
    """§7: "积分明细" gives more than "积分": the newest twenty entries with their reasons."""
    wx.follow()
    member = member_of(db, wx)
    give(app, member, *(f"第{n:02d}笔" for n in range(1, 26)))
    jobs.run_all()
    reply = wx.text("积分明细").split("\n")
    assert reply[0] == "积分明细（最近 20 条）："
    assert reply[1:] == [f"11-23 +1 第{n:02d}笔" for n in range(25, 5, -1)]


def test_积分_after_points_expired_tells_the_expiry_with_the_overview(app, wx, db, jobs, clock):
    """§6/§7: points due to expire are expired when the member asks; the notice leads the reply."""
    wx.follow()
    member = member_of(db, wx)
    give(app, member, "问卷", each=40)
    jobs.run_all()
    clock.advance(days=800)                                    # past the end of 2027 (CST)
    assert wx.text("积分").startswith("40 积分已到期。当前积分 0。\n\n当前积分：0\n")
    member = fresh(db, member)
    assert member.points == ledger_sum(db, member) == 0


def test_签到_pays_once_per_china_day_and_the_notice_is_the_reply(phone, db, clock):
    """§7 sign_in, frequency 1/day: days are China time (18:00 and 23:00 CST are one day,
    01:00 CST the next); in safe mode, as most accounts run."""
    bob = phone("bob", mode="safe")
    bob.follow()
    member = member_of(db, bob)
    assert bob.text("签到") == "每日签到：积分 +2。当前积分 2。"        # 2026-11-23 18:00 CST
    clock.advance(hours=5)                                     # 23:00 CST
    assert bob.text("签到") == "今天已经签到过了，明天再来。"
    clock.advance(hours=2)                                     # 2026-11-24 01:00 CST, 17:00 UTC
    assert bob.text("签到") == "每日签到：积分 +2。当前积分 4。"
    clock.advance(minutes=1)
    assert bob.text("签到") == "今天已经签到过了，明天再来。"
    member = fresh(db, member)
    assert member.points == ledger_sum(db, member) == 4
    assert db.scalar(select(func.count()).select_from(Award)) == 2


def test_签到_from_a_member_we_never_saw_follow_is_answered(phone, db):
    """§7: a fan who followed before the bot existed (first push is a text, WECHAT-PLATFORM.md
    §3: only followers can write) is answered with what they earned like everyone else."""
    bob = phone("bob")
    bob.text("你好")
    member = member_of(db, bob)
    assert bob.text("签到") == "每日签到：积分 +2。当前积分 2。"
    assert fresh(db, member).points == 2


def test_a_retried_签到_pays_once(phone, db, clock):
    """WECHAT-PLATFORM.md §2: WeChat retries the same MsgId; the sign-in runs and pays once and
    every delivery gets the same answer."""
    bob = phone("bob", mode="safe")
    bob.follow()
    member = member_of(db, bob)
    xml = bob.xml({"MsgType": "text", "Content": "签到", "MsgId": 7300000000000000001})
    replies = []
    for _ in range(3):
        replies.append(bob.deliver(xml).content)
        clock.advance(seconds=5)
    assert replies == ["每日签到：积分 +2。当前积分 2。"] * 3
    assert fresh(db, member).points == 2
    assert db.scalar(select(func.count()).select_from(LedgerEntry)) == 1


def test_a_member_earns_the_follow_rule_once_whichever_account(app, phone, make_account, db, clock):
    """§2 follow, frequency once: a member following another of our accounts earns it (the
    notice leads the welcome); following again, there or anywhere, pays nothing."""
    sub = make_account(**SUB)
    bob, bob_at_sub = phone("bob"), phone("bob", account=sub)
    bob.text("你好")
    member = member_of(db, bob)
    # The member's fan row at the other account, linked as phone binding (issue #4) will link it.
    db.add(Fan(account_id=sub.id, openid=sandbox_openid("sub", "bob"), member_id=member.id,
               created_at=clock.now()))
    db.commit()
    assert bob_at_sub.follow() == "关注公众号：积分 +10。当前积分 10。\n\n欢迎关注分店！"
    clock.advance(minutes=1)
    bob_at_sub.unfollow()
    clock.advance(minutes=1)
    assert bob_at_sub.follow() == "欢迎回来！欢迎关注分店！"
    bob.unfollow()
    clock.advance(minutes=1)
    assert bob.follow() == "欢迎回来！欢迎关注总部服务号！"
    member = fresh(db, member)
    assert member.points == ledger_sum(db, member) == 10
    assert sorted(db.scalars(select(Award.status))) == ["limited", "paid"]


def test_a_fan_who_is_not_a_member_earns_nothing_by_following(phone, db):
    """§2 follow: only members earn; a fan who binds later gets it then (issue #4)."""
    assert phone("bob").follow() == WELCOME        # with the binding offer
    assert db.scalar(select(func.count()).select_from(Award)) == 0


def test_a_purchase_notice_goes_out_as_a_customer_service_message_while_a_window_is_open(
        app, phone, db, jobs, world, clock):
    """§7 + DESIGN.md Outbound: a change the member did not ask about (an order from the booking
    system) is stored pending for their fan and sent by the delivery job (§4.7 window open)."""
    bob = phone("bob")
    bob.follow()
    bob.text("你好")                                            # a 48-hour window
    jobs.run_all()                                              # the follow's tag job
    member = member_of(db, bob)
    buy(app, clock, member, "A-1", 150)
    notice = "消费：积分 +15，成长值 +150。当前积分 15。\n恭喜！您已升级为「铜牌会员」。"
    assert outbound(db, bob.openid) == [(PENDING, notice)]
    assert jobs.queued() == ["workers.messaging.deliver_pending"]
    jobs.run_all()
    assert [m["content"] for m in world.messages_to(bob.account.appid, bob.openid)] == [notice]
    assert outbound(db, bob.openid) == [(SENT, notice)]
    assert jobs.failed() == 0


def test_without_a_window_the_notice_rides_along_with_the_next_passive_reply(app, phone, db, jobs,
                                                                             world, clock):
    """§4.7 no window (bob wrote 49 hours ago): no customer-service message; the notice waits
    and leads bob's next passive reply, before the answer he asked for."""
    bob = phone("bob")
    bob.follow()
    bob.text("你好")
    member = member_of(db, bob)
    clock.advance(hours=49)
    buy(app, clock, member, "A-1", 150)
    jobs.run_all()
    assert [m["kind"] for m in world.messages_to(bob.account.appid, bob.openid)] == ["template"]
    notice = "消费：积分 +15，成长值 +150。当前积分 15。\n恭喜！您已升级为「铜牌会员」。"
    assert outbound(db, bob.openid) == [(PENDING, notice)]
    assert bob.text("积分").startswith(notice + "\n\n当前积分：15\n会员等级：铜牌会员")
    assert outbound(db, bob.openid) == [(SENT, notice)]
    assert bob.text("随便说说") == FALLBACK


def test_a_member_who_follows_no_account_is_not_written_to_and_nothing_breaks(app, phone, db, jobs,
                                                                              world, clock):
    """§7: with nobody to write to (no fan row; or unfollowed) the change is booked, no message
    is queued or sent (each notice is kept as unreachable, with why), and "积分" shows it when
    they come back."""
    nobody = member_of(db)
    bob = phone("bob")
    bob.follow()
    gone = member_of(db, bob)
    bob.unfollow()
    jobs.run_all()                                              # the follow's tag job
    buy(app, clock, nobody, "A-1", 150)
    buy(app, clock, gone, "A-2", 200)
    assert db.scalar(select(func.count()).select_from(OutboundMessage)
                     .where(OutboundMessage.status != "unreachable")) == 0
    assert db.execute(select(OutboundMessage.member_id, OutboundMessage.openid, OutboundMessage.reason)
                      .order_by(OutboundMessage.id)).all() == [
        (nobody.id, None, "follows none of our accounts"), (gone.id, bob.openid, "follows none of our accounts")]
    assert jobs.queued() == []
    assert (fresh(db, nobody).points, fresh(db, gone).points) == (15, 20)
    assert db.scalar(select(func.sum(PointsLot.remaining))) == 35
    clock.advance(minutes=1)
    # Back, as a member: the follow rule pays (first follow as a member), and 积分 shows it all.
    assert bob.follow() == "关注公众号：积分 +10。当前积分 30。\n\n欢迎回来！欢迎关注总部服务号！"
    assert bob.text("积分").startswith("当前积分：30\n会员等级：铜牌会员（成长值 200）")
    assert world.messages_to(bob.account.appid, bob.openid) == []
