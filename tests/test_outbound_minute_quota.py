"""45011 ("api minute-quota reach limit ... retry next minute", WECHAT-PLATFORM.md §4.1, §4.15):
a minute quota, or a second stable_token force refresh within 30 s. The delivery job retries
(rq: 5 s, 15 s, 60 s); the last attempt falls back to the template notice (§4.8), and what is
left rides with the person's next passive reply. Nothing waits on retries forever."""
from outbound_support import CUSTOM_SEND, TEMPLATE_SEND, custom_texts, notices, run_due_retries, states

from handlers.common import FALLBACK
from tests.wechat_client_support import stable_token_calls

STABLE_TOKEN = "/cgi-bin/stable_token"


def retry_until_done(jobs, clock) -> int:
    """Run the job and each retry rq schedules, the clock moving on by the backoff; how many runs."""
    runs = jobs.run_all()
    for interval in (5, 15, 60):
        clock.advance(seconds=interval)
        if not run_due_retries(jobs):
            break
        runs += jobs.run_all()
    return runs


def test_a_rationed_force_refresh_is_retried_and_the_message_arrives_once(relay, phone, world, jobs, clock):
    """Two token rejections within 30 s: the second delivery's force refresh gets 45011; its job
    retries, and once 30 s have passed the retry refreshes and sends, exactly once."""
    alice, bob, carol = phone("alice"), phone("bob"), phone("carol")
    bob.text("在吗")
    carol.text("在吗")
    world.fail_next(CUSTOM_SEND, 40001)
    alice.text("告诉 bob 第一件事")
    jobs.run_all()
    assert custom_texts(world, bob) == ["第一件事"]
    clock.advance(seconds=10)
    world.fail_next(CUSTOM_SEND, 40001)
    alice.text("告诉 carol 第二件事")

    assert retry_until_done(jobs, clock) >= 2
    assert custom_texts(world, carol) == ["第二件事"]
    assert states(relay, carol) == [("sent", "custom")]
    assert 45011 in [c["errcode"] for c in world.calls(STABLE_TOKEN)]
    assert stable_token_calls(world, alice.account.appid).count(True) == 2    # one force each, 30 s apart
    assert notices(world, carol) == [] and jobs.failed() == 0


def test_a_minute_quota_through_every_retry_ends_in_a_notice_and_the_next_reply(relay, phone, world, jobs,
                                                                               clock):
    """45011 on every attempt: four attempts, then one template notice; the message stays
    pending and comes with bob's next passive reply; no job is left retrying."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    world.fail_next(CUSTOM_SEND, 45011, times=-1)
    alice.text("告诉 bob 晚上七点开会")

    assert retry_until_done(jobs, clock) == 4
    assert [c["errcode"] for c in world.calls(CUSTOM_SEND)] == [45011] * 4
    assert notices(world, bob) == ["1 条新消息"]
    assert states(relay, bob) == [("pending", None)]
    assert run_due_retries(jobs) == 0 and jobs.queued() == [] and jobs.failed() == 0
    world.clear_failures()
    assert bob.text("好的") == f"晚上七点开会\n\n{FALLBACK}"
    assert states(relay, bob) == [("sent", "passive")]


def test_without_templates_a_minute_quota_leaves_it_for_the_next_reply(relay, phone, make_account, world, jobs,
                                                                      clock):
    """A verified subscription account (CS messages, no templates, §5.1): after the retries the
    message waits for the person's next passive reply, and the job ends (not failed)."""
    sub = make_account(slug="sub", type="subscription", verified=True, appid="wxsub0000000001",
                       original_id="gh_sub000000001", notice_template_id=None)
    alice, bob = phone("alice", account=sub), phone("bob", account=sub)
    bob.text("在吗")
    world.fail_next(CUSTOM_SEND, 45011, times=-1)
    alice.text("告诉 bob 晚上七点开会")

    assert retry_until_done(jobs, clock) == 4
    assert world.calls(TEMPLATE_SEND) == [] and jobs.failed() == 0
    assert states(relay, bob) == [("pending", None)]
    world.clear_failures()
    assert bob.text("好的") == f"晚上七点开会\n\n{FALLBACK}"
