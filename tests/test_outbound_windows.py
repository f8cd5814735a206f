"""The two customer-service windows of WECHAT-PLATFORM.md §4.7 (3 / 1 min after a click, follow
or scan; 5 / 48 h after a message) and WeChat's own refusals (45015, 45047, §4.15)."""
import pytest
from outbound_support import CUSTOM_SEND, bulky, custom_texts, notices, states

from bot import keys
from handlers.common import FALLBACK, UNKNOWN_MENU


def our_window(app, person) -> dict[str, float]:
    raw = app.extensions["redis"].hgetall(keys.cs_window(person.account.slug, person.openid))
    return {k.decode(): float(v) for k, v in raw.items()}


def test_menu_click_allows_three_messages_within_a_minute(relay, phone, world, jobs, clock):
    """§4.7: a click grants 3 messages within 1 min (not the 48 h quota); the 4th waits."""
    alice, bob = phone("alice"), phone("bob")
    assert bob.click("MENU_NEWS") == UNKNOWN_MENU
    texts = [bulky(f"第{n}件事") for n in range(1, 5)]
    for text in texts:
        alice.text(f"告诉 bob {text}")

    jobs.run_all()

    assert custom_texts(world, bob) == texts[:3]
    assert notices(world, bob) == ["1 条新消息"]
    assert states(relay, bob) == [("sent", "custom")] * 3 + [("pending", None)]
    assert len(world.calls(CUSTOM_SEND)) == 3          # the 4th was never tried (no 45047)


def test_minute_after_a_click_the_short_window_is_closed(relay, phone, world, jobs, clock):
    """§4.7: the click window lasts 1 min; after it nothing goes out as a CS message."""
    alice, bob = phone("alice"), phone("bob")
    bob.click("MENU_NEWS")
    alice.text("告诉 bob 第一件事")
    jobs.run_all()
    assert custom_texts(world, bob) == ["第一件事"]

    clock.advance(seconds=61)
    alice.text("告诉 bob 第二件事")
    jobs.run_all()

    assert custom_texts(world, bob) == ["第一件事"]
    assert len(world.calls(CUSTOM_SEND)) == 1
    assert notices(world, bob) == ["1 条新消息"]
    assert states(relay, bob) == [("sent", "custom"), ("pending", None)]


def test_click_budget_is_spent_before_the_message_budget(relay, phone, world, jobs, clock):
    """§4.7: two separate budgets; the 1-minute one is spent first, then the 48-hour one."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    bob.click("MENU_NEWS")
    first = [bulky(f"第{n}件事") for n in range(1, 5)]
    for text in first:
        alice.text(f"告诉 bob {text}")
    jobs.run_all()

    assert custom_texts(world, bob) == first
    assert world.cs_window(bob.account.appid, bob.openid) == pytest.approx(
        {"msg_until": clock.timestamp() + 48 * 3600, "msg_used": 1,
         "evt_until": clock.timestamp() + 60, "evt_used": 3})
    assert our_window(relay, bob) == world.cs_window(bob.account.appid, bob.openid)

    # A minute later only the message window is open: its last 4 of 5, then nothing.
    clock.advance(minutes=2)
    later = [bulky(f"第{n}件事") for n in range(5, 10)]
    for text in later:
        alice.text(f"告诉 bob {text}")
    jobs.run_all()

    assert custom_texts(world, bob) == first + later[:4]
    assert notices(world, bob) == ["1 条新消息"]
    assert states(relay, bob)[-1] == ("pending", None)
    assert [c["errcode"] for c in world.calls(CUSTOM_SEND)] == [0] * 8


def test_new_user_message_restarts_the_budget(relay, phone, world, jobs, clock):
    """§4.7: each user message restarts the 48 h window with a fresh budget of 5."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    for n in range(1, 6):
        alice.text(f"告诉 bob {bulky(str(n))}")
    jobs.run_all()
    assert len(custom_texts(world, bob)) == 5

    clock.advance(hours=47)
    bob.text("还有吗")
    alice.text("告诉 bob 第六件事")
    jobs.run_all()

    assert custom_texts(world, bob)[-1] == "第六件事"
    assert notices(world, bob) == []


@pytest.mark.parametrize("errcode", [45047, 45015])
def test_wechat_refusal_beats_our_count_and_nothing_is_lost(relay, phone, world, jobs, errcode):
    """§4.7/§4.15: 45047 (count used) or 45015 (window closed) though our count says budget is
    left: we trust WeChat, stop trying, send a notice, and deliver with bob's next reply."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    world.fail_next(CUSTOM_SEND, errcode)
    alice.text("告诉 bob 第一件事")
    jobs.run_all()

    assert custom_texts(world, bob) == []
    assert [c["errcode"] for c in world.calls(CUSTOM_SEND)] == [errcode]
    assert notices(world, bob) == ["1 条新消息"]
    assert states(relay, bob) == [("pending", None)]
    assert jobs.failed() == 0

    # Our window now agrees with WeChat: the next message is not even tried.
    alice.text("告诉 bob 第二件事")
    jobs.run_all()
    assert len(world.calls(CUSTOM_SEND)) == 1
    assert notices(world, bob) == ["1 条新消息"]

    assert bob.text("好的") == f"第一件事\n\n第二件事\n\n{FALLBACK}"
    assert states(relay, bob) == [("sent", "passive")] * 2
    assert custom_texts(world, bob) == []
