"""Binding a phone in the chat (issue #4 §2, §3, "Must show"): transcripts through the webhook,
from 绑定 to bound, every way it can go wrong, the SMS backends, retried pushes (WECHAT-PLATFORM.md
§2) and two fans binding one phone at the same moment."""
import itertools
import logging
import re
from types import SimpleNamespace

import pytest
import requests
from concurrency_support import at_once
from sqlalchemy import select

from bot.binding.sms import SmsFailed, text_for
from handlers.common import FALLBACK
from menus.definition import MenuKey
from models import Award, Fan, Member
from tests.binding_support import (ASK_PHONE, ASK_REFERRER, LEFT, NEW_MEMBER, SUB, TAKEN, bind, count,
                                   fan_of, last_code, ledger_points, load_rules, member_by_phone,
                                   overlap_holder_checks, role_tags, sent, sms_count, to_code_step)
from tests.conftest import WELCOME

MSG_IDS = itertools.count(7_400_000_000_000_000_001)
BAD_FORMAT = "手机号格式不对，请输入 11 位中国大陆手机号（如 13800000000），或回复“取消”退出。"
AT_PHONE = "正在绑定手机：请输入 11 位中国大陆手机号，回复“取消”退出。"
WRONG = "验证码不对，请再输入一次（还可以试 {left} 次）。"
EXPIRED = "验证码已过期，请回复“重发”获取新的验证码。"
PHONE_CAP = "这个手机号今天收到的验证码已达上限，请明天再试。"
FAN_CAP = "您今天获取验证码的次数已达上限，请明天再试。"
# The example rules: bind 100 points + 100 growth (bronze at 100), follow 10.
PAID = ("注册会员：积分 +100，成长值 +100。当前积分 100。\n关注公众号：积分 +10。当前积分 110。\n"
        "恭喜！您已升级为「铜牌会员」。")


@pytest.fixture(autouse=True)
def rules(app):
    load_rules(app)


def delivered_twice(person, content: str) -> list[str | None]:
    """One push delivered twice with the same MsgId, as WeChat retries it (§2)."""
    xml = person.xml({"MsgType": "text", "Content": content, "MsgId": next(MSG_IDS)})
    return [person.deliver(xml).content for _ in range(2)]


# --- the happy path -----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_a_follower_binds_and_is_told_what_they_got(app, phone, db, jobs, mode):
    """§3: 绑定 → phone → code → bound: the bind rule (100 points, 100 growth) and the follow rule
    (followed before binding) pay, the reply says so and offers the referral step."""
    bob = phone("bob", mode=mode)
    assert bob.follow() == WELCOME
    assert bind(bob, app, jobs, "13812345678") == f"{PAID}\n\n{NEW_MEMBER}\n\n{ASK_REFERRER}"
    member = member_by_phone(db, "13812345678")
    assert fan_of(db, bob).member_id == member.id
    assert (member.points, member.growth, member.level) == (110, 100, "bronze")
    assert ledger_points(db, member) == 110
    assert sorted(db.scalars(select(Award.rule_code))) == ["bind", "follow"]
    assert bob.text("跳过") == "好的，已跳过。"
    assert bob.text("绑定") == "您已绑定手机 138****5678。回复“我的”查看会员信息。"


def test_binding_puts_the_会员_tag_on_last(app, phone, world, jobs):
    """§3: the tag job makes WeChat agree: the fan's menu-role tag becomes 会员, applied last
    (conditional menus match the last-applied tag, WECHAT-PLATFORM.md §4.6)."""
    bob = phone("bob")
    bob.follow()
    bind(bob, app, jobs, "13812345678")
    jobs.run_all()
    assert jobs.failed() == 0
    assert role_tags(world, bob)[-1:] == ["会员"]
    assert "粉丝" not in role_tags(world, bob)


def test_the_menu_key_starts_binding_even_in_the_middle_of_another_step(app, phone, jobs, clock):
    """§3 entry: menu BIND_PHONE; a click leaves the current step and starts afresh."""
    bob = phone("bob")
    bob.follow()
    assert bob.click(MenuKey.BIND_PHONE) == ASK_PHONE
    assert bob.text("13812345678") == sent("138****5678")
    clock.advance(seconds=1)                       # another tap, not WeChat's retry of the first (§2)
    assert bob.click(MenuKey.BIND_PHONE) == ASK_PHONE
    assert bob.text("绑定手机") == AT_PHONE            # in the phone step, a word is no phone


# --- what the phone and code steps refuse --------------------------------------------------------

def test_a_phone_in_the_wrong_format_is_asked_again(app, phone, jobs):
    """§3: only a mainland mobile number is taken; +86 and spaces are fine."""
    bob = phone("bob")
    bob.text("绑定")
    for typed in ("12345", "12812345678", "138123456789"):
        assert bob.text(typed) == BAD_FORMAT
    assert bob.text("电话号码") == AT_PHONE
    assert sms_count(app) == 0 and jobs.queued() == []
    assert bob.text("+86 138 1234 5678") == sent("138****5678")


def test_five_wrong_codes_end_the_flow(app, phone, db, jobs):
    """§3: 5 wrong codes end the flow; the right code afterwards binds nothing."""
    bob = phone("bob")
    code = to_code_step(bob, app, jobs, "13812345678")
    wrong = "000000" if code != "000000" else "111111"
    assert [bob.text(wrong) for _ in range(4)] == [WRONG.format(left=n) for n in (4, 3, 2, 1)]
    assert bob.text(wrong) == "验证码错误次数过多，本次绑定已结束。需要时请重新回复“绑定”。"
    assert bob.text(code) == FALLBACK
    assert fan_of(db, bob).member_id is None and member_by_phone(db, "13812345678") is None


def test_an_expired_code_asks_for_重发_and_the_new_code_binds(app, phone, db, jobs, clock):
    """§3: codes live 5 minutes (by the injected clock); 重发 then sends a fresh one."""
    bob = phone("bob")
    code = to_code_step(bob, app, jobs, "13812345678")
    clock.advance(minutes=5, seconds=1)
    assert bob.text(code) == EXPIRED
    assert bob.text("重发") == sent("138****5678")
    fresh = last_code(app, jobs)
    assert sms_count(app) == 2
    assert bob.text(fresh).endswith(ASK_REFERRER)
    assert fan_of(db, bob).member_id is not None


def test_重发_waits_sixty_seconds_and_the_old_code_stops_working(app, phone, db, jobs, clock):
    """§3: "重发" resends only after 60 s; the resent code replaces the first one."""
    bob = phone("bob")
    first = to_code_step(bob, app, jobs, "13812345678")
    clock.advance(seconds=30)
    assert bob.text("重发") == "请 30 秒后再回复“重发”。"
    clock.advance(seconds=29)
    assert bob.text("重发") == "请 1 秒后再回复“重发”。"
    assert sms_count(app) == 1
    clock.advance(seconds=1)
    assert bob.text("重发") == sent("138****5678")
    second = last_code(app, jobs)
    assert sms_count(app) == 2
    if first != second:
        assert bob.text(first) == WRONG.format(left=4)
    assert bob.text(second).endswith(ASK_REFERRER)


def test_starting_over_does_not_send_another_code_within_sixty_seconds(app, phone, jobs, clock):
    """§3: the 60 s between codes holds however the fan asks: 取消 then 绑定 again is no way round
    it (else one fan can send a stranger's phone ten texts in ten seconds)."""
    bob = phone("bob")
    to_code_step(bob, app, jobs, "13812345678")
    clock.advance(seconds=10)
    assert bob.text("取消") == LEFT
    assert bob.text("绑定") == ASK_PHONE
    bob.text("13812345678")
    jobs.run_all()
    assert sms_count(app) == 1


def test_ten_codes_per_phone_a_day_across_fans(app, phone, jobs, clock):
    """§3: at most 10 codes per phone per (China) day, whichever fans ask; the next day, again."""
    bob, carl, dave = phone("bob"), phone("carl"), phone("dave")
    for person in (bob, carl):
        to_code_step(person, app, jobs, "13812345678")
        for _ in range(4):
            clock.advance(seconds=61)
            assert person.text("重发") == sent("138****5678")
            jobs.run_all()
    assert sms_count(app) == 10
    clock.advance(seconds=61)
    assert carl.text("重发") == PHONE_CAP                   # stays in the code step
    dave.text("绑定")
    assert dave.text("13812345678") == PHONE_CAP            # ends the flow
    assert dave.text("13812345678") == FALLBACK
    clock.advance(hours=6)                                  # 00:00 China time
    dave.text("绑定")
    assert dave.text("13812345678") == sent("138****5678")


def test_ten_codes_per_fan_a_day_whatever_the_phones(app, phone, jobs, clock):
    """§3: at most 10 codes per fan per day, even to ten different phones."""
    bob = phone("bob")
    for n in range(10):
        bob.text("绑定")
        assert bob.text(f"1381234{n:04d}") == sent(f"138****{n:04d}")
        jobs.run_all()
        bob.text("取消")
        clock.advance(seconds=61)
    bob.text("绑定")
    assert bob.text("13912345678") == FAN_CAP
    assert jobs.queued() == [] and sms_count(app) == 10


def test_a_phone_bound_to_another_fan_of_the_account_is_refused(app, phone, db, jobs):
    """§3: one phone, one fan per account: the second fan is told why (and what the owner can
    do: 解绑 from the old WeChat, or the operator), and no code is sent."""
    alice, bob = phone("alice"), phone("bob")
    bind(alice, app, jobs, "13812345678")
    bob.text("绑定")
    assert bob.text("13812345678") == TAKEN.format(masked="138****5678")
    jobs.run_all()
    assert sms_count(app) == 1
    assert fan_of(db, bob).member_id is None


def test_one_phone_on_two_accounts_is_one_member_with_one_balance(app, phone, make_account, db, jobs):
    """§3 + DESIGN.md: fans of two accounts binding one phone are one member; the bind and
    follow rules pay once; points earned on either account show on both."""
    sub = make_account(**SUB)
    bob, bob_at_sub = phone("bob"), phone("bob", account=sub)
    bob.follow()
    bind(bob, app, jobs, "13812345678")
    bob.text("跳过")
    bob_at_sub.follow()
    # Not new: no referrer asked; told that the other account's member is this one.
    assert bind(bob_at_sub, app, jobs, "13812345678") == (
        "绑定成功！您在「HQ」已是会员（同一手机号），这里与那里是同一会员，积分和等级通用，当前积分 110。"
        "回复“积分”查看积分，回复“我的”查看会员信息。")
    member = member_by_phone(db, "13812345678")
    assert fan_of(db, bob).member_id == fan_of(db, bob_at_sub).member_id == member.id
    assert member.points == 110
    bob_at_sub.text("跳过")
    assert bob_at_sub.text("签到") == "每日签到：积分 +2。当前积分 112。"
    assert bob.text("积分").startswith("当前积分：112\n")


def test_解绑_then_binding_again_restores_the_member_and_pays_nothing_twice(app, phone, db, jobs):
    """§3/§6: 解绑 keeps the member; binding the phone again links the same member, same points."""
    bob = phone("bob")
    bob.follow()
    bind(bob, app, jobs, "13812345678")
    bob.text("跳过")
    member = member_by_phone(db, "13812345678")
    bob.text("解绑")
    assert bob.text("确认") == "已解除绑定。需要时回复“绑定”重新绑定。"
    assert bob.text("我的") == "您还没有绑定手机。回复“绑定”验证手机号，即可成为会员。"
    bind(bob, app, jobs, "13812345678")
    assert fan_of(db, bob).member_id == member.id
    again = member_by_phone(db, "13812345678")
    assert (again.points, ledger_points(db, again), count(db, Member)) == (110, 110, 1)


# --- 取消 and WeChat's retries at every step -----------------------------------------------------

def test_取消_leaves_the_phone_step_and_the_code_step(app, phone, db, jobs):
    """§3: "取消" leaves at every step; the old code then binds nothing."""
    bob = phone("bob")
    bob.text("绑定")
    assert bob.text("取消") == LEFT
    assert bob.text("13812345678") == FALLBACK
    code = to_code_step(bob, app, jobs, "13812345678")
    assert bob.text("取消") == LEFT
    assert bob.text(code) == FALLBACK
    assert fan_of(db, bob).member_id is None


def test_each_step_delivered_twice_runs_once(app, phone, db, jobs):
    """§2: WeChat retries a push with the same MsgId; every step (绑定, the phone, the code)
    answers the retry with the same reply and acts once: one SMS, one binding, points once."""
    bob = phone("bob", mode="safe")
    bob.follow()
    assert delivered_twice(bob, "绑定") == [ASK_PHONE] * 2
    assert delivered_twice(bob, "13812345678") == [sent("138****5678")] * 2
    assert jobs.queued().count("workers.sms.send_code") == 1
    code = last_code(app, jobs)
    assert delivered_twice(bob, code) == [f"{PAID}\n\n{NEW_MEMBER}\n\n{ASK_REFERRER}"] * 2
    member = member_by_phone(db, "13812345678")
    assert (member.points, ledger_points(db, member), count(db, Award)) == (110, 110, 2)
    assert sms_count(app) == 1


# --- two fans, one phone, the same moment ---------------------------------------------------------

@pytest.mark.parametrize("known", [False, True], ids=["new-phone", "imported-member"])
def test_two_fans_binding_one_phone_at_once_exactly_one_wins(app, phone, db, jobs, monkeypatch, known):
    """Issue #4 "Must show": both at the code step, both codes pushed at the same instant: one
    binds, the other is told the phone is taken. On PostgreSQL the unique indexes decide
    (member.phone for a new phone, uq_fan_account_member for a known member); on SQLite the
    write lock."""
    if known:
        db.add(Member(phone="13812345678", level="registered", imported=True))
        db.commit()
    alice, bob = phone("alice"), phone("bob", mode="safe")
    codes = [to_code_step(person, app, jobs, "13812345678") for person in (alice, bob)]
    overlap_holder_checks(monkeypatch)
    replies = at_once([lambda: alice.text(codes[0]), lambda: bob.text(codes[1])])
    assert sorted(r == TAKEN.format(masked="138****5678") for r in replies) == [False, True]
    member = member_by_phone(db, "13812345678")
    bound = list(db.scalars(select(Fan).where(Fan.member_id == member.id)))
    assert len(bound) == 1 and count(db, Member) == 1
    assert (member.points, ledger_points(db, member)) == (100, 100)


def test_two_accounts_binding_one_new_phone_at_once_share_one_member(app, phone, make_account, db, jobs,
                                                                     monkeypatch):
    """§3: fans of two accounts binding one brand-new phone at the same instant: one member
    row (the loser of the insert finds the winner's), both fans linked, the bind rule once."""
    sub = make_account(**SUB)
    bob, bob_at_sub = phone("bob"), phone("bob", account=sub)
    codes = [to_code_step(person, app, jobs, "13812345678") for person in (bob, bob_at_sub)]
    overlap_holder_checks(monkeypatch)
    replies = at_once([lambda: bob.text(codes[0]), lambda: bob_at_sub.text(codes[1])])
    # One binding created the member (asked for a referrer), the other found it (no referral).
    assert sorted(r.endswith(ASK_REFERRER) for r in replies) == [False, True], replies
    member = member_by_phone(db, "13812345678")
    assert count(db, Member) == 1
    assert fan_of(db, bob).member_id == fan_of(db, bob_at_sub).member_id == member.id
    assert (member.points, ledger_points(db, member)) == (100, 100)


# --- the SMS backends and the logs ----------------------------------------------------------------

class Posts(list):
    """What the fake provider was sent; `answer` is what it answers: a status, or an error to raise."""
    answer: int | Exception = 200


@pytest.fixture
def provider(app, monkeypatch):
    """SMS_BACKEND=http against a fake provider (no network): every POST recorded."""
    for name, value in (("SMS_BACKEND", "http"), ("SMS_HTTP_URL", "https://sms.example.com/send"),
                        ("SMS_HTTP_TOKEN", "t0ken")):
        monkeypatch.setitem(app.config, name, value)
    posts = Posts()

    def post(url, **kwargs):
        posts.append({"url": url, **kwargs})
        if isinstance(posts.answer, Exception):
            raise posts.answer
        return SimpleNamespace(status_code=posts.answer)
    monkeypatch.setattr("bot.binding.sms.requests.post", post)
    return posts


def test_the_http_backend_posts_the_documented_json(app, phone, db, jobs, provider):
    """§2: SMS_BACKEND=http POSTs {"phone", "text", "code", "purpose"} to SMS_HTTP_URL with the
    bearer token and the timeout; the code it carried binds; nothing goes to the console outbox."""
    bob = phone("bob")
    bob.text("绑定")
    bob.text("13812345678")
    jobs.run_all()
    (call,) = provider
    code = call["json"]["code"]
    assert re.fullmatch(r"\d{6}", code)
    assert call["url"] == "https://sms.example.com/send"
    assert call["json"] == {"phone": "13812345678", "text": text_for(code), "code": code, "purpose": "bind"}
    assert call["headers"] == {"Authorization": "Bearer t0ken"}
    assert call["timeout"] == app.config["SMS_HTTP_TIMEOUT"]
    assert sms_count(app) == 0
    assert bob.text(code).endswith(ASK_REFERRER)


@pytest.mark.parametrize("failure", [503, 400, requests.ConnectTimeout("slow")],
                         ids=["503", "400", "timeout"])
def test_a_provider_failure_raises_sms_failed_and_the_job_retries(app, phone, jobs, provider, failure):
    """§2: any answer but 2xx (or no answer) is SmsFailed, so rq retries the job (5, 15, 60 s)."""
    from workers.sms import send_code
    provider.answer = failure
    bob = phone("bob")
    bob.text("绑定")
    bob.text("13812345678")
    (job,) = [j for q in jobs.queues for j in q.jobs]
    assert (job.func_name, job.retries_left, job.retry_intervals) == ("workers.sms.send_code", 3, [5, 15, 60])
    with app.app_context(), pytest.raises(SmsFailed) as failed:
        send_code(*job.args)
    assert "13812345678" not in str(failed.value) and "138****5678" in str(failed.value)


def test_the_send_job_carries_no_code_and_skips_a_replaced_code(app, phone, jobs, clock):
    """§2: the job's arguments (which rq logs) hold no code; a job for a code that 重发 replaced
    sends nothing, so a retry never delivers a stale code."""
    bob = phone("bob")
    bob.text("绑定")
    bob.text("13812345678")
    clock.advance(seconds=61)
    bob.text("重发")
    stale, current = [j for q in jobs.queues for j in q.jobs]
    jobs.run_all()
    code = last_code(app, jobs)
    assert sms_count(app) == 1
    assert all(code not in str(arg) for job in (stale, current) for arg in job.args)


@pytest.mark.parametrize("backend", ["console", "http"])
def test_codes_and_whole_phones_never_reach_the_logs(app, phone, jobs, caplog, provider, backend):
    """§2: "codes never appear in logs"; phones appear masked (138****5678), at every level."""
    if backend == "console":
        app.config["SMS_BACKEND"] = "console"
    caplog.set_level(logging.DEBUG)
    bob, carl = phone("bob", mode="safe"), phone("carl")

    def code_sent() -> str:
        jobs.run_all()
        return provider[-1]["json"]["code"] if backend == "http" else last_code(app, jobs)
    bob.follow()
    bob.text("绑定")
    bob.text("13812345678")
    code = code_sent()
    bob.text("000000" if code != "000000" else "111111")
    bob.text(code)
    carl.text("绑定")
    carl.text("13912345678")
    carl.text(code_sent())
    carl.text("13812345678")                    # bob as the referrer
    jobs.run_all()
    logged = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    assert logged
    for secret in (code, "13812345678", "13912345678"):
        assert not [line for line in logged if re.search(rf"(?<![0-9a-f]){secret}(?![0-9a-f])", line)]
