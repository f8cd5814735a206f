"""Pushes are answered in front of Flask (bot/fast_webhook.py): on time with their passive
reply, late (past DEFER_AFTER_S in the front server's queue) with the empty answer and a
worker's customer-service message; WeChat's retries as before. Whatever the layer cannot settle
is Flask's, with the answer it always had: the 403, the 400, a process without its account copy."""
import time

import pytest
from outbound_support import custom_texts

from bot import directory
from handlers.common import FALLBACK
from tests.conftest import WELCOME


def late(seconds: float = 3) -> dict:
    """What nginx stamps on a request that waited `seconds` in its queue (bench/front.py)."""
    return {"X-Request-Start": f"t={time.time() - seconds:.3f}"}


@pytest.fixture
def flask_calls(app, monkeypatch):
    """The requests that reached the Flask app behind the layer."""
    calls, inner = [], app.wsgi_app.inner

    def counted(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return inner(environ, start_response)
    monkeypatch.setattr(app.wsgi_app, "inner", counted)
    return calls


def post(app, person, push: str, headers: dict, **query_changes):
    query, body = person.wrap(push)
    query.update(query_changes)
    response = app.test_client().post(f"/wechat/{person.account.slug}", query_string=query, data=body,
                                      headers=headers)
    return response.status_code, response.data


def follower(wx, clock, jobs):
    assert wx.follow() == WELCOME         # the process now has its copy of the account
    jobs.run_all()
    clock.advance(minutes=2)


def test_a_late_text_is_acknowledged_in_front_of_flask_and_answered_by_customer_service(
        app, phone, world, jobs, clock, flask_calls):
    bob = phone("bob", mode="safe")
    follower(bob, clock, jobs)
    world.user_event(bob.account.appid, bob.openid, "message")     # WeChat opens the window
    flask_calls.clear()
    push = bob.xml({"MsgType": "text", "Content": "你好", "MsgId": 7_800_000_000_000_000_101})
    assert post(app, bob, push, late()) == (200, b"")              # AES mode: the empty answer
    assert flask_calls == []
    jobs.run_all()
    assert custom_texts(world, bob) == [FALLBACK]


def test_the_retry_of_a_late_push_gets_the_empty_answer_and_the_fan_one_answer(
        app, wx, world, jobs, clock, flask_calls):
    follower(wx, clock, jobs)
    world.user_event(wx.account.appid, wx.openid, "message")
    push = wx.xml({"MsgType": "text", "Content": "你好", "MsgId": 7_800_000_000_000_000_102})
    flask_calls.clear()
    assert post(app, wx, push, late()) == (200, b"success")
    assert post(app, wx, push, late(4)) == (200, b"success")   # WeChat's retry
    assert flask_calls == []
    jobs.run_all()
    assert custom_texts(world, wx) == [FALLBACK]


def test_a_late_push_with_a_bad_signature_is_refused_by_flask(app, wx, jobs, clock, flask_calls):
    follower(wx, clock, jobs)
    flask_calls.clear()
    push = wx.xml({"MsgType": "text", "Content": "你好", "MsgId": 7_800_000_000_000_000_103})
    assert post(app, wx, push, late(), signature="0" * 40) == (403, b"bad signature")
    assert flask_calls == [f"/wechat/{wx.account.slug}"]
    assert jobs.queued() == []


def test_a_late_body_that_is_not_a_push_gets_flasks_400(app, wx, jobs, clock):
    follower(wx, clock, jobs)
    query, _ = wx.wrap(wx.xml({"MsgType": "text", "Content": "x", "MsgId": 1}))
    response = app.test_client().post(f"/wechat/{wx.account.slug}", query_string=query, data=b"<xml><",
                                      headers=late())
    assert response.status_code == 400 and jobs.queued() == []


def test_a_late_push_before_the_process_has_its_account_copy_is_handed_off_by_flask(
        app, wx, world, jobs, clock, flask_calls):
    follower(wx, clock, jobs)
    world.user_event(wx.account.appid, wx.openid, "message")
    directory._LOCAL.clear()              # a fresh process
    flask_calls.clear()
    push = wx.xml({"MsgType": "text", "Content": "你好", "MsgId": 7_800_000_000_000_000_104})
    assert post(app, wx, push, late()) == (200, b"success")
    assert len(flask_calls) == 1
    jobs.run_all()
    assert custom_texts(world, wx) == [FALLBACK]


def test_a_push_on_time_gets_its_passive_reply_in_front_of_flask(app, phone, jobs, clock, flask_calls):
    bob = phone("bob", mode="safe")
    follower(bob, clock, jobs)
    flask_calls.clear()
    assert bob.text("你好") == FALLBACK                  # decrypted from the sealed reply
    push = bob.xml({"MsgType": "text", "Content": "你好", "MsgId": 7_800_000_000_000_000_105})
    status, body = post(app, bob, push, late(0.5))
    assert status == 200 and b"<Encrypt>" in body
    assert flask_calls == []


def test_the_handshake_and_other_pages_are_flasks(app, wx, flask_calls):
    query, _ = wx.wrap("")
    response = app.test_client().get(f"/wechat/{wx.account.slug}", query_string={**query, "echostr": "e1"})
    assert (response.status_code, response.data) == (200, b"e1")
    assert app.test_client().post("/wechat-not", data=b"x").status_code == 404
    assert flask_calls == [f"/wechat/{wx.account.slug}", "/wechat-not"]


def test_a_body_without_a_length_or_over_the_limit_gets_flasks_answer(app, wx, jobs, clock, flask_calls):
    follower(wx, clock, jobs)
    query, _ = wx.wrap("")
    flask_calls.clear()
    response = app.test_client().post(f"/wechat/{wx.account.slug}", query_string=query,
                                      data=b"<xml>" + b"x" * (1024 * 1024) + b"</xml>")
    assert response.status_code == 413 and flask_calls == [f"/wechat/{wx.account.slug}"]


def test_deferred_pushes_are_counted_in_one_log_line_at_most_every_ten_seconds(
        app, phone, jobs, clock, caplog, monkeypatch):
    from bot import hand_off
    monkeypatch.setattr(hand_off, "deferrals", hand_off.DeferralLog())
    fans = [phone(name) for name in ("amy", "ben", "cai", "dan")]
    for fan in fans:
        follower(fan, clock, jobs)
    caplog.set_level("WARNING", logger="bot.hand_off")
    for number, fan in enumerate(fans[:3]):
        push = fan.xml({"MsgType": "text", "Content": "你好", "MsgId": 7_800_000_000_000_000_110 + number})
        assert post(app, fan, push, late()) == (200, b"success")
    hand_off.deferrals.last -= hand_off.LOG_EVERY_S            # ten seconds later
    push = fans[3].xml({"MsgType": "text", "Content": "你好", "MsgId": 7_800_000_000_000_000_119})
    assert post(app, fans[3], push, late()) == (200, b"success")
    lines = [r.getMessage() for r in caplog.records if "deferred to a worker" in r.getMessage()]
    assert [line.split(" (")[0] for line in lines] == [
        "pushes deferred to a worker: 1 late, 0 fan busy", "pushes deferred to a worker: 3 late, 0 fan busy"]
    jobs.run_all()


def test_a_late_repeat_waits_for_the_first_reply_only_while_the_5_s_last(app, wx, jobs, clock):
    """WeChat's retry arrives late (3.5 s in the front server's queue) while its first delivery
    still runs: it gets the empty answer within WeChat's 5 s, not after a full REPLAY_WAIT."""
    from bot import keys
    from bot.protocol import fingerprint, parse
    from bot.sessions import PENDING
    follower(wx, clock, jobs)
    push = wx.xml({"MsgType": "text", "Content": "你好", "MsgId": 7_800_000_000_000_000_120})
    app.extensions["redis"].set(keys.seen(wx.account.slug, fingerprint(parse(push))), PENDING, ex=60)
    started = time.monotonic()
    assert post(app, wx, push, late(3.5)) == (200, b"success")
    assert time.monotonic() - started < 1.2       # PASSIVE_BUDGET_S (4) - 3.5, with room
