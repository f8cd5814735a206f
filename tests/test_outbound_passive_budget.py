"""A reply WeChat may no longer take (WECHAT-PLATFORM.md §2: it waits 5 s for the response, then
gives that delivery up) must not carry messages that waited for the fan: they would be marked
delivered and never reach anyone. Past the passive budget they stay pending and leave by the
next channel: a customer-service message (the push opened the window), else the next reply."""
import time

import pytest
from outbound_support import CUSTOM_SEND, custom_texts, relay_router, states

from bot.dispatch import Dispatcher, Router, text_of
from bot.routes import ROUTERS
from handlers.common import FALLBACK, FALLBACK_NO_MENU   # the 订阅号 here has no menu

SLOW = 0.3


@pytest.fixture
def slow_relay(app):
    """The relay router, and "慢" answered after SLOW seconds; a passive budget of 0.2 s."""
    slow = Router("slow")

    @slow.on(lambda msg: text_of(msg) == "慢")
    def answer_slowly(ctx, msg):
        time.sleep(SLOW)
        return "好了"
    app.config["PASSIVE_BUDGET_S"] = 0.2
    app.extensions["dispatcher"] = Dispatcher([slow, relay_router(), *ROUTERS], strict=True)
    return app


def test_a_late_reply_leaves_what_waited_pending_for_the_next_reply(slow_relay, phone, make_account, jobs):
    """An unverified 订阅号 (passive replies only, §5.1): the slow answer goes alone; what waited
    stays pending and comes with the next reply that is in time."""
    sub = make_account(slug="sub", type="subscription", verified=False, appid="wx5ub0000000000001",
                       secret="sub-secret-0001", token="subtoken01", original_id="gh_5ub000000001")
    alice, bob = phone("alice", account=sub), phone("bob", account=sub)
    alice.text("告诉 bob 周末团建")
    assert bob.text("慢") == "好了"
    assert states(slow_relay, bob) == [("pending", None)]
    jobs.run_all()                                   # the job asked for has no channel here
    assert bob.text("你好") == f"周末团建\n\n{FALLBACK_NO_MENU}"
    assert states(slow_relay, bob) == [("sent", "passive")]


def test_a_late_reply_sends_what_waited_as_a_customer_service_message(slow_relay, phone, world, jobs):
    """A service account: the push opened bob's window (§4.7), so what waited leaves at once as a
    customer-service message, once; the slow answer itself still goes as the passive reply."""
    alice, bob = phone("alice"), phone("bob")
    alice.text("告诉 bob 晚上七点开会")
    jobs.run_all()                                   # no window yet: the template notice
    assert bob.text("慢") == "好了"
    jobs.run_all()
    assert custom_texts(world, bob) == ["晚上七点开会"]
    assert states(slow_relay, bob) == [("sent", "custom")]
    assert bob.text("你好") == FALLBACK and len(world.calls(CUSTOM_SEND)) == 1


def test_a_reply_in_time_still_carries_what_waited(slow_relay, phone, make_account):
    """Within the budget nothing changes: the waiting message rides the reply (and is marked so)."""
    sub = make_account(slug="sub", type="subscription", verified=False, appid="wx5ub0000000000001",
                       secret="sub-secret-0001", token="subtoken01", original_id="gh_5ub000000001")
    alice, bob = phone("alice", account=sub), phone("bob", account=sub)
    alice.text("告诉 bob 周末团建")
    assert bob.text("你好") == f"周末团建\n\n{FALLBACK_NO_MENU}"
    assert states(slow_relay, bob) == [("sent", "passive")]
