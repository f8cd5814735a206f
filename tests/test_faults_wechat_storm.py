"""WeChat failing in a storm while messages wait for several fans (WECHAT-PLATFORM.md §4.15):
-1 (busy), 45009 (daily quota) and calls that time out, mixed. Whatever the mix, every message
reaches its fan exactly once, by a customer-service message, or after the notice with the fan's
next passive reply; nothing is sent twice, no job is left failing."""
import requests
from outbound_support import CUSTOM_SEND, custom_texts, notices, run_due_retries, states
from requests.adapters import BaseAdapter

from handlers.common import FALLBACK

FANS = ["bob", "carol", "dave", "erin", "fay"]


class TimesOut(BaseAdapter):
    """The first `count` customer-service sends get no answer (a timeout before WeChat took
    them); the rest go to the sandbox as usual."""

    def __init__(self, inner, count: int):
        super().__init__()
        self.inner, self.left = inner, count

    def send(self, request, **kwargs):
        if self.left > 0:
            self.left -= 1
            raise requests.ReadTimeout("read timed out", request=request)
        return self.inner.send(request, **kwargs)

    def close(self):
        pass


def test_a_storm_of_busy_quota_and_timeouts_loses_nothing_and_sends_nothing_twice(relay, phone, world, jobs,
                                                                                  clock):
    alice, fans = phone("alice"), [phone(name) for name in FANS]
    for fan in fans:
        fan.text("在吗")
    http, base = relay.extensions["http"], relay.config["WECHAT_API_BASE"]
    http.mount(base + CUSTOM_SEND, TimesOut(http.get_adapter(base + "/"), count=2))
    world.fail_next(CUSTOM_SEND, -1, times=4)
    for name in FANS:
        alice.text(f"告诉 {name} {name} 的消息")

    jobs.run_all()
    world.fail_next(CUSTOM_SEND, 45009, times=1)          # then the daily quota, once (§4.15: stop)
    for interval in (5, 15, 60):
        clock.advance(seconds=interval)
        run_due_retries(jobs)
        jobs.run_all()

    assert jobs.failed() == 0 and run_due_retries(jobs) == 0
    outcomes = {}
    for name, fan in zip(FANS, fans):
        got = custom_texts(world, fan)
        outcomes[name] = bool(got)
        assert got in ([], [f"{name} 的消息"]), (name, got)          # never twice
        if got:
            assert states(relay, fan) == [("sent", "custom")]
        else:                                                       # told, and it waits
            assert notices(world, fan) == ["1 条新消息"] and states(relay, fan) == [("pending", None)]
            assert fan.text("好的") == f"{name} 的消息\n\n{FALLBACK}"
    assert any(outcomes.values()) and not all(outcomes.values())                    # both ends of the policy were hit
