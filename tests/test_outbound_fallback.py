"""When no customer-service message may go out: one template notice (verified service accounts,
WECHAT-PLATFORM.md §4.8), else the message waits for the person's next passive reply; and what
happens when WeChat is busy (-1, §4.15). Nothing is dropped."""
import pytest
from outbound_support import (CUSTOM_SEND, TEMPLATE_SEND, custom_texts, deliver_now, notices,
                              run_due_retries, states)

from handlers.common import FALLBACK
from handlers.me import FAN_HELP_NO_MENU


def never_wrote(bob, clock):
    """bob followed (a 1-minute window) and that minute is over."""
    bob.follow()
    clock.advance(minutes=2)


def window_expired(bob, clock):
    """bob wrote, 49 hours ago."""
    bob.text("在吗")
    clock.advance(hours=49)


@pytest.mark.parametrize("history", [never_wrote, window_expired])
def test_no_window_one_notice_then_pending_rides_the_next_reply(relay, phone, world, jobs, clock,
                                                                 history):
    """§4.7 no open window → no CS message; §4.8 one template notice for the whole batch; the
    messages come with bob's next passive reply, oldest first, before the answer."""
    alice, bob = phone("alice"), phone("bob")
    history(bob, clock)
    alice.text("告诉 bob 第一件事")
    alice.text("告诉 bob 第二件事")
    jobs.run_all()

    assert world.calls(CUSTOM_SEND) == []
    assert notices(world, bob) == ["2 条新消息"]
    notice = world.messages_to(bob.account.appid, bob.openid)[0]["payload"]
    assert notice["template_id"] == "TPL_NEW_MESSAGES"
    assert notice["data"]["hint"]["value"] == "回复任意内容查看"

    deliver_now(relay, bob)
    alice.text("告诉 bob 第三件事")
    jobs.run_all()
    assert notices(world, bob) == ["2 条新消息"]
    assert states(relay, bob) == [("pending", None)] * 3

    assert bob.text("收到") == f"第一件事\n\n第二件事\n\n第三件事\n\n{FALLBACK}"
    assert states(relay, bob) == [("sent", "passive")] * 3
    assert bob.text("还有吗") == FALLBACK


def test_unverified_subscription_account_only_answers_passively(relay, phone, make_account, world,
                                                                jobs):
    """§5.1: an unverified 订阅号 has neither CS messages nor templates: no API call at all; the
    message waits and rides along with bob's next passive reply."""
    sub = make_account(slug="sub", type="subscription", verified=False, appid="wx5ub0000000000001",
                       secret="sub-secret", token="subtoken", original_id="gh_5ub000000001",
                       name="分号", welcome_text="欢迎关注分号！")
    alice, bob = phone("alice", account=sub), phone("bob", account=sub)
    bob.text("在吗")
    alice.text("告诉 bob 周末团建")
    jobs.run_all()

    assert world.calls(appid=sub.appid) == []
    assert world.messages_to(sub.appid, bob.openid) == []
    assert states(relay, bob) == [("pending", None)]

    assert bob.text("帮助") == f"周末团建\n\n{FAN_HELP_NO_MENU}"
    assert states(relay, bob) == [("sent", "passive")]


def test_busy_wechat_makes_rq_retry_and_the_retry_sends_once(relay, phone, world, jobs):
    """§4.15 -1 system busy: the job raises, rq retries it with backoff (Retry set by the
    Outbox), and the retry delivers exactly once."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    world.fail_next(CUSTOM_SEND, -1)
    alice.text("告诉 bob 晚上七点开会")
    job = jobs.queues[0].jobs[0]
    assert (job.retries_left, job.retry_intervals) == (3, [5, 15, 60])

    jobs.run_all()

    job.refresh()
    assert job.get_status() == "scheduled" and job.retries_left == 2
    assert jobs.failed() == 0
    assert custom_texts(world, bob) == [] and notices(world, bob) == []
    assert states(relay, bob) == [("pending", None)]

    assert run_due_retries(jobs) == 1
    jobs.run_all()

    assert custom_texts(world, bob) == ["晚上七点开会"]
    assert [c["errcode"] for c in world.calls(CUSTOM_SEND)] == [-1, 0]
    assert states(relay, bob) == [("sent", "custom")]
    assert run_due_retries(jobs) == 0 and jobs.failed() == 0


def test_wechat_busy_through_every_retry_loses_nothing(relay, phone, world, jobs):
    """§4.15: the last retry does not fail but falls back: one template notice (§4.8), and
    the message stays pending and comes with bob's next passive reply."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    world.fail_next(CUSTOM_SEND, -1, times=4)
    alice.text("告诉 bob 晚上七点开会")
    jobs.run_all()
    while run_due_retries(jobs):
        jobs.run_all()

    assert jobs.failed() == 0
    assert len(world.calls(CUSTOM_SEND)) == 4
    assert notices(world, bob) == ["1 条新消息"]
    assert states(relay, bob) == [("pending", None)]
    assert bob.text("好的") == f"晚上七点开会\n\n{FALLBACK}"
    assert states(relay, bob) == [("sent", "passive")]


def test_busy_notice_after_some_were_sent_never_repeats_them(relay, phone, world, jobs):
    """§4.15 -1 on the notice after 3 CS messages went out (click window, §4.7): those 3 stay
    sent (no second copy on any channel), a fresh job tries the notice, the 4th is not lost."""
    alice, bob = phone("alice"), phone("bob")
    bob.click("MENU_NEWS")
    pieces = ["a" * 2048, "b" * 2048, "c" * 2048, "d" * 1000]
    alice.text("告诉 bob " + "".join(pieces))             # one push, one job, four pieces
    world.fail_next(TEMPLATE_SEND, -1)

    jobs.run_all()
    while run_due_retries(jobs):
        jobs.run_all()

    assert custom_texts(world, bob) == pieces[:3]
    assert states(relay, bob) == [("sent", "custom")] * 3 + [("pending", None)]
    assert [c["errcode"] for c in world.calls(TEMPLATE_SEND)] == [-1, 0]
    assert notices(world, bob) == ["1 条新消息"]
    assert bob.text("好的") == f"{pieces[3]}\n\n{FALLBACK}"
    assert custom_texts(world, bob) == pieces[:3]
