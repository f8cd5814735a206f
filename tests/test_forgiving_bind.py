"""Only an answer answers a step, and an optional step gives way (binding transcripts through the
webhook): what people type at the phone, code and referrer steps that is no answer costs nothing
and is answered."""
import pytest

from handlers.bind_phone import AT_CODE, AT_PHONE
from handlers.common import FALLBACK
from handlers.me import FAN_HELP
from models import Referral
from tests.binding_support import (ASK_PHONE, ASK_REFERRER, NEW_MEMBER, count, fan_of, last_code, load_rules,
                                   member_by_phone, sent, to_code_step)

WRONG = "验证码不对，请再输入一次（还可以试 {left} 次）。"


@pytest.fixture(autouse=True)
def rules(app):
    load_rules(app)


def test_帮助_积分_and_12345_at_the_code_step_cost_no_attempt_and_the_code_binds(app, phone, db, jobs):
    bob = phone("bob")
    bob.follow()
    code = to_code_step(bob, app, jobs, "13812345678")
    for typed in ("帮助", "积分", "12345", "1234567", "你好"):
        assert bob.text(typed) == AT_CODE, typed
    wrong = "000000" if code != "000000" else "111111"
    assert bob.text(wrong) == WRONG.format(left=4)      # the first real attempt: four remain
    spaced = f"{code[:3]} {code[3:]}"                   # as people copy it from the SMS
    assert bob.text(spaced).endswith(f"{NEW_MEMBER}\n\n{ASK_REFERRER}")
    assert fan_of(db, bob).member_id == member_by_phone(db, "13812345678").id


def test_five_non_codes_do_not_end_the_flow(app, phone, db, jobs):
    bob = phone("bob")
    code = to_code_step(bob, app, jobs, "13812345678")
    assert [bob.text("积分") for _ in range(6)] == [AT_CODE] * 6
    assert bob.text(code).endswith(ASK_REFERRER)


def test_a_full_width_code_counts(app, phone, db, jobs):
    bob = phone("bob")
    code = to_code_step(bob, app, jobs, "13812345678")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
    assert bob.text(full_width).endswith(ASK_REFERRER)


def test_积分_at_the_phone_step_names_the_step_and_the_way_out(app, phone, jobs):
    bob = phone("bob")
    assert bob.text("绑定") == ASK_PHONE
    assert bob.text("积分") == AT_PHONE
    assert "取消" in AT_PHONE
    assert bob.text("13812345678") == sent("138****5678")


def test_取消_leaves_the_code_step(app, phone, db, jobs):
    bob = phone("bob")
    to_code_step(bob, app, jobs, "13812345678")
    assert bob.text("取消").startswith("已退出当前操作")
    assert bob.text("积分").startswith("您还不是会员")
    assert fan_of(db, bob).member_id is None


def bound(app, phone, jobs):
    bob = phone("bob")
    bob.follow()
    code = to_code_step(bob, app, jobs, "13812345678")
    assert bob.text(code).endswith(ASK_REFERRER)
    return bob


def test_积分_during_the_referrer_question_answers_the_points(app, phone, db, jobs):
    bob = bound(app, phone, jobs)
    assert bob.text("积分").startswith("当前积分：110")
    assert bob.text("13900000009") == FALLBACK           # the question is over: no referrer taken
    assert count(db, Referral) == 0


@pytest.mark.parametrize("command, starts", [("我的", "手机：138****5678"), ("帮助", "您可以"),
                                             ("签到", ""), ("人工", "")])
def test_commands_at_the_referrer_question_are_answered_as_commands(app, phone, jobs, command, starts):
    bob = bound(app, phone, jobs)
    reply = bob.text(command)
    assert reply and reply.startswith(starts) and "推荐人" not in reply and reply != FALLBACK


def test_a_non_member_fan_help_is_unchanged(wx):
    assert wx.text("帮助") == FAN_HELP


def test_a_keyword_reply_at_the_referrer_question(app, phone, db, jobs):
    from models import KeywordReply
    from models.keyword import EXACT
    bob = bound(app, phone, jobs)
    db.add(KeywordReply(account_id=fan_of(db, bob).account_id, keyword="营业时间", match=EXACT,
                        reply="每天 9:00-18:00"))
    db.commit()
    assert bob.text("营业时间") == "每天 9:00-18:00"
    assert bob.text("13900000009") == FALLBACK


def test_a_menu_click_at_the_referrer_question(app, phone, jobs):
    from menus.definition import MenuKey
    bob = bound(app, phone, jobs)
    assert bob.click(MenuKey.MY_POINTS).startswith("当前积分：110")
    assert bob.text("13900000009") == FALLBACK
