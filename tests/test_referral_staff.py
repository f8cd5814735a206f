"""After binding (issue #4 §4-§6, "Must show"): the referral step, staff authentication by the
roster, a legacy member of the old CRM coming back, and "我的" / "帮助" by role. Transcripts
through the webhook."""
import itertools

import pytest
from sqlalchemy import select

from bot import points
from bot.binding.roles import MEMBER_COMMANDS, STAFF_COMMANDS
from bot.points.engine import adjust, fire
from handlers.common import FALLBACK
from handlers.cs import AGENT_HELP
from handlers.me import BASE_HELP, FAN_HELP, NOT_A_MEMBER
from models import Award, Member, OutboundMessage, Referral, Staff
from models.outbound import PENDING
from tests.binding_support import (ASK_REFERRER, LEFT, NEW_MEMBER, SUB, bind, count, fan_of, ledger_points,
                                   load_rules, member_by_phone, role_tags, roster)

MSG_IDS = itertools.count(7_410_000_000_000_000_001)
ALICE, CARL = "13800000000", "13800000002"
RECORDED = "受邀注册：积分 +20。当前积分 130。\n\n已记录您的推荐人 138****0000，谢谢！"
TOLD = "您推荐的新会员 138****0002 已注册，获得 50 积分。"
UNKNOWN = "没有找到这个手机号对应的会员"
NOT_A_PHONE = "这不是手机号"
SELF = "不能填写自己的手机号"
MEMBER_HELP = "\n".join([BASE_HELP] + [f"· {line}" for line in MEMBER_COMMANDS])
STAFF_HELP = "\n".join([MEMBER_HELP, "员工命令："] + [f"· {line}" for line in STAFF_COMMANDS])
# An agent's 帮助 lists every desk command first (off shift: how to start), then the rest.
AGENT_OFF_SHIFT_HELP = ("您现在不在班，回复“上班”开始接待。\n" + AGENT_HELP + "\n员工功能：\n"
                        + "\n".join(f"· {line}" for line in STAFF_COMMANDS if "上班" not in line and "帮助" not in line)
                        + "\n会员功能：\n" + "\n".join(f"· {line}" for line in MEMBER_COMMANDS if "人工" not in line))
STAFF_WELCOME = "王导，您好！员工身份验证成功。您可以：\n" + "\n".join(f"· {line}" for line in STAFF_COMMANDS)


@pytest.fixture(autouse=True)
def rules(app):
    load_rules(app)


@pytest.fixture
def alice(app, phone, jobs):
    """A member who bound 138****0000 in the chat (110 points) and skipped the referral."""
    person = phone("alice")
    person.follow()
    bind(person, app, jobs, ALICE)
    person.text("跳过")
    jobs.run_all()
    return person


def carl_binds(app, phone, jobs, mode: str = "plain"):
    """carl follows and binds 138****0002 (110 points); the bot now asks for his referrer."""
    carl = phone("carl", mode=mode)
    carl.follow()
    assert bind(carl, app, jobs, CARL).endswith(f"{NEW_MEMBER}\n\n{ASK_REFERRER}")
    return carl


def pending_for(db, person) -> list[tuple[str, str]]:
    db.rollback()
    return [(m.status, m.content) for m in db.scalars(
        select(OutboundMessage).where(OutboundMessage.openid == person.openid).order_by(OutboundMessage.id))]


# --- referral ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_a_members_phone_records_the_referral_and_tells_the_referrer(app, phone, db, jobs, world,
                                                                     alice, mode):
    """§4: right after binding the bot asks for the referrer; alice's phone records the referral,
    carl gets referral_referee (20), alice referral_referrer (50) and a message that waits for
    her fan and goes out as a customer-service message (her window is open)."""
    carl = carl_binds(app, phone, jobs, mode)
    assert carl.text(ALICE) == RECORDED
    referrer, referee = member_by_phone(db, ALICE), member_by_phone(db, CARL)
    referrals = [(r.referrer_id, r.referee_id) for r in db.scalars(select(Referral))]
    assert referrals == [(referrer.id, referee.id)]
    assert (referrer.points, ledger_points(db, referrer)) == (160, 160)
    assert (referee.points, ledger_points(db, referee)) == (130, 130)
    assert pending_for(db, alice) == [(PENDING, TOLD)]
    jobs.run_all()
    assert [m["content"] for m in world.messages_to(alice.account.appid, alice.openid)] == [TOLD]
    assert carl.text(ALICE) == FALLBACK                      # the flow is over


def test_a_referrer_over_the_monthly_limit_is_told_without_points(app, phone, db, jobs, world, alice):
    """§4 + the example rules (referral 10 a month): the 11th referral is recorded, alice earns
    nothing for it and is told so."""
    referrer = member_by_phone(db, ALICE)
    with points.transaction(app) as book:
        for n in range(10):
            fire(book, referrer.id, "referral_referrer", "referral", f"earlier-{n}")
    jobs.run_all()
    carl = carl_binds(app, phone, jobs)
    assert carl.text(ALICE) == RECORDED
    assert pending_for(db, alice)[-1] == (PENDING, "您推荐的新会员 138****0002 已注册。")
    assert member_by_phone(db, ALICE).points == 110 + 10 * 50


@pytest.mark.parametrize("answers, hints", [
    (["13900000009", "13900000008"], [UNKNOWN, UNKNOWN]),
    ([CARL, "12345"], [SELF, NOT_A_PHONE]),
    (["139 0000", "13900000007"], [NOT_A_PHONE, UNKNOWN]),
], ids=["unknown-twice", "self-then-not-a-phone", "not-a-phone-then-unknown"])
def test_a_wrong_referrer_gets_one_retry_then_the_flow_ends(app, phone, db, jobs, alice, answers, hints):
    """§4: unknown, own or phone-shaped but no mobile number: one more try, then the flow ends
    without a referral. (Words are no answer at all: they leave the step, tests/test_forgiving_bind.py.)"""
    carl = carl_binds(app, phone, jobs)
    assert carl.text(answers[0]) == f"{hints[0]}，请再输入一次推荐人的手机号，或回复“跳过”。"
    assert carl.text(answers[1]) == f"{hints[1]}，本次不记录推荐人。"
    assert carl.text(ALICE) == FALLBACK
    assert count(db, Referral) == 0
    assert member_by_phone(db, ALICE).points == 110
    assert count(db, Award, Award.rule_code.in_(["referral", "referee"])) == 0


def test_the_retry_may_name_the_right_referrer(app, phone, db, jobs, alice):
    """§4: the one retry counts: a wrong phone, then alice's, records the referral."""
    carl = carl_binds(app, phone, jobs)
    assert carl.text("13900000009").startswith(UNKNOWN)
    assert carl.text(ALICE) == RECORDED
    assert count(db, Referral) == 1


@pytest.mark.parametrize("leave, reply", [("跳过", "好的，已跳过。"), ("取消", LEFT)])
def test_跳过_or_取消_at_the_referrer_step_records_nothing(app, phone, db, jobs, alice, leave, reply):
    """§4: "跳过" is offered; "取消" leaves this step as every other (§3). The binding stands."""
    carl = carl_binds(app, phone, jobs)
    assert carl.text(leave) == reply
    assert carl.text(ALICE) == FALLBACK
    assert count(db, Referral) == 0
    assert fan_of(db, carl).member_id == member_by_phone(db, CARL).id


def test_the_referrer_step_delivered_twice_records_and_pays_once(app, phone, db, jobs, alice):
    """WECHAT-PLATFORM.md §2: the same MsgId again replays the reply; one referral, one award
    each, one message to alice."""
    carl = carl_binds(app, phone, jobs, "safe")
    xml = carl.xml({"MsgType": "text", "Content": ALICE, "MsgId": next(MSG_IDS)})
    assert [carl.deliver(xml).content for _ in range(2)] == [RECORDED] * 2
    assert count(db, Referral) == 1
    assert member_by_phone(db, ALICE).points == 160
    assert pending_for(db, alice) == [(PENDING, TOLD)]


def test_a_member_binding_another_account_is_not_asked_for_a_referrer(app, phone, make_account, db, jobs,
                                                                      alice):
    """§4: "a referral is recorded once per new member": carl, a member since he bound on hq
    (where he skipped), binding the sub account is no new member and names no referrer there."""
    sub = make_account(**SUB)
    carl, carl_at_sub = phone("carl"), phone("carl", account=sub)
    bind(carl, app, jobs, CARL)
    carl.text("跳过")
    reply = bind(carl_at_sub, app, jobs, CARL)
    carl_at_sub.text(ALICE)
    assert count(db, Referral) == 0
    assert member_by_phone(db, ALICE).points == 110
    assert ASK_REFERRER not in reply


# --- staff --------------------------------------------------------------------------------------

def test_a_phone_on_the_roster_binds_as_staff(app, phone, db, jobs, world):
    """§5: a verified phone on the active roster: linked to the roster row, the staff welcome
    with the staff commands, no bind points, no referral step, the 员工 tag applied last."""
    staff = roster(db, "13900000001", roles="guide,agent")
    wang = phone("wang", mode="safe")
    wang.follow()
    assert bind(wang, app, jobs, "13900000001") == STAFF_WELCOME
    member = member_by_phone(db, "13900000001")
    assert db.get(Staff, staff.id).member_id == member.id
    assert (member.points, count(db, Award)) == (0, 0)
    assert wang.text("13800000000") == FALLBACK
    jobs.run_all()
    assert jobs.failed() == 0
    assert role_tags(world, wang)[-1:] == ["员工"]
    assert wang.text("我的") == ("手机：139****0001\n等级：注册会员\n积分：0\n门店：西湖门店\n"
                               "员工：王导（导游、客服），西湖门店")
    assert wang.text("帮助") == AGENT_OFF_SHIFT_HELP


def test_a_phone_off_the_roster_binds_as_an_ordinary_member(app, phone, db, jobs, world):
    """§5: "A phone not on the roster continues as an ordinary member binding"."""
    roster(db, "13900000001")
    bob = phone("bob")
    bob.follow()
    assert bind(bob, app, jobs, "13900000002").endswith(f"{NEW_MEMBER}\n\n{ASK_REFERRER}")
    assert member_by_phone(db, "13900000002").points == 110
    bob.text("跳过")
    jobs.run_all()
    assert role_tags(world, bob)[-1:] == ["会员"]
    assert bob.text("帮助") == MEMBER_HELP


def test_a_deactivated_roster_row_binds_as_an_ordinary_member(app, phone, db, jobs, world):
    """§5: only the active roster makes staff: an inactive row is an ordinary member binding."""
    staff = roster(db, "13900000001", active=False)
    wang = phone("wang")
    wang.follow()
    assert bind(wang, app, jobs, "13900000001").endswith(f"{NEW_MEMBER}\n\n{ASK_REFERRER}")
    assert db.get(Staff, staff.id).member_id is None
    jobs.run_all()
    assert role_tags(world, wang)[-1:] == ["会员"]
    assert "员工" not in wang.text("我的")


def test_staff_deactivated_after_binding_lose_the_staff_items_at_once(app, phone, db, jobs):
    """§5: "Deactivated staff lose ... the commands at once": 我的 and 帮助 read the roster
    every time, so the next message already shows a member's view."""
    staff = roster(db, "13900000001")
    wang = phone("wang")
    bind(wang, app, jobs, "13900000001")
    assert wang.text("帮助") == STAFF_HELP
    db.rollback()
    db.get(Staff, staff.id).active = False
    db.commit()
    assert wang.text("帮助") == MEMBER_HELP
    assert wang.text("我的") == "手机：139****0001\n等级：注册会员\n积分：0\n门店：西湖门店"


# --- 我的 and 帮助 by role, a legacy member -----------------------------------------------------

def test_我的_and_帮助_for_a_fan_and_a_member(app, phone, jobs, alice):
    """§6: a fan is offered binding; a member sees masked phone, level, points and store."""
    bob = phone("bob")
    assert bob.text("我的") == NOT_A_MEMBER
    assert bob.text("帮助") == FAN_HELP
    assert alice.text("我的") == "手机：138****0000\n等级：铜牌会员\n积分：110\n门店：未归属门店"
    assert alice.text("帮助") == MEMBER_HELP


def test_a_legacy_member_binding_is_welcomed_back_with_points_and_level(app, phone, db, jobs):
    """§1/§3: a member imported from the old CRM (silver, 800 points as an opening entry) binds
    that phone: linked to the same row, points and level kept, "欢迎回来"."""
    legacy = Member(phone="13700000000", name="老王", level="silver", imported=True)
    db.add(legacy)
    db.commit()
    with points.transaction(app) as book:
        adjust(book, legacy.id, 800, "原会员积分", "import", "legacy:13700000000")
    jobs.run_all()
    old = phone("old")
    old.follow()
    assert bind(old, app, jobs, "13700000000") == (
        "注册会员：积分 +100，成长值 +100。当前积分 900。\n关注公众号：积分 +10。当前积分 910。\n\n"
        "欢迎回来！已为您保留原会员的积分和等级。回复“积分”查看积分，回复“我的”查看会员信息。")
    member = member_by_phone(db, "13700000000")
    assert (member.id, member.level, member.points) == (legacy.id, "silver", 910)
    assert ledger_points(db, member) == 910
    assert count(db, Member) == 1
    old.text("跳过")
    assert old.text("我的") == "手机：137****0000\n等级：银牌会员\n积分：910\n门店：未归属门店"
    assert "+800 原会员积分" in old.text("积分明细")
