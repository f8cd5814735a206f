"""Rating (issue #6 Build 2): after a conversation closes, a reply 1-5 within 30 minutes is its
rating, once; anything else, and anything later, routes as usual."""

from bot.cs.relay import RATING_WINDOW
from handlers.common import FALLBACK
from handlers.cs import THANKS
from tests.conftest import later


def test_the_fan_ends_and_rates(org, jobs, clock):
    """结束 from the fan closes it and asks for a rating; "5" is the rating, once; after that,
    and after the rating window, digits route as usual."""
    zhang = org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    zhang.text("您好")
    closing = alice.text("结束")
    assert closing and "1-5" in closing
    assert org.conversation(alice).closed_by == "fan"
    assert alice.text("5") == THANKS
    assert org.conversation(alice).rating == 5
    assert alice.text("4") == FALLBACK
    assert org.conversation(alice).rating == 5

    alice.text("人工")
    zhang.text("还有什么问题吗")
    zhang.text("结束")                       # closed by the agent: the prompt reaches alice by CS
    jobs.run_all()
    assert "请为本次服务打分，回复 1-5" in org.texts(alice)[-1]
    later(clock, minutes=RATING_WINDOW.seconds // 60 + 1)
    assert alice.text("４") == FALLBACK       # too late (a full-width digit is still a digit)
    assert org.conversation(alice).rating is None


def test_a_rating_within_the_window_after_the_agent_closed(org, jobs, clock):
    zhang = org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    zhang.text("结束")
    jobs.run_all()
    later(clock, minutes=10)
    assert alice.text("３分") == THANKS
    assert org.conversation(alice).rating == 3
