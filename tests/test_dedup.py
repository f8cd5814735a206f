"""WeChat's retries run a push once; one fan's pushes never interleave (WECHAT-PLATFORM.md §2,
DESIGN.md "One push, in order" steps 3-5). Everything goes through the webhook."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bot import keys, pipeline
from bot.dispatch import Dispatcher, Router, text_of
from bot.protocol import fingerprint, parse
from bot.routes import ROUTERS
from bot.sessions import PENDING
from models import Event, Fan
from tests.conftest import WELCOME

JOB = "workers.messaging.deliver_pending"


@pytest.fixture
def runs(app):
    """Installs a test router in front of the real ones; returns the log of what it ran."""
    log: list[tuple] = []
    router = Router("test")

    @router.text("计数")
    def count(ctx, msg):
        log.append(("count", ctx.openid))
        ctx.enqueue(JOB, ctx.account.id, ctx.openid)
        return f"第{len(log)}次"

    @router.click("A", "B")
    def menu(ctx, msg):
        log.append(("click", msg.key))
        return f"菜单{msg.key}"

    @router.text("失败")
    def broken(ctx, msg):
        log.append(("broken", ctx.openid))
        raise RuntimeError("handler bug")

    @router.on(lambda msg: text_of(msg).startswith("慢"))
    def slow(ctx, msg):
        log.append(("enter", ctx.openid, time.monotonic()))
        time.sleep(0.3)
        log.append(("exit", ctx.openid, time.monotonic()))
        return f"慢慢来：{text_of(msg)}"

    app.extensions["dispatcher"] = Dispatcher([router, *ROUTERS], strict=True)
    return log


def events(app) -> list[Event]:
    with app.extensions["db"]() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def fan(app, openid: str) -> Fan:
    with app.extensions["db"]() as session:
        return session.scalar(select(Fan).where(Fan.openid == openid))


def seen_key(phone, xml: str) -> str:
    return keys.seen(phone.account.slug, fingerprint(parse(xml)))


def text_xml(phone, content: str, msg_id: int) -> str:
    return phone.xml({"MsgType": "text", "Content": content, "MsgId": msg_id})


def deliver_together(app, pushes):
    """Posts (phone, xml) pushes at the same instant, one thread and HTTP client each."""
    start = threading.Barrier(len(pushes))

    def post(push):
        phone, xml = push
        query, body = phone.wrap(xml)
        client = app.test_client()
        start.wait()
        response = client.post(f"/wechat/{phone.account.slug}", query_string=query, data=body)
        fields = phone.unwrap(response.data) if response.status_code == 200 else None
        return response.status_code, (fields or {}).get("Content"), response.data

    with ThreadPoolExecutor(len(pushes)) as pool:
        return list(pool.map(post, pushes))


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_a_text_delivered_three_times_runs_once(app, phone, runs, jobs, mode):
    """§2: the same MsgId delivered three times runs the handler once; every delivery gets its reply."""
    bob = phone("bob", mode=mode)
    xml = text_xml(bob, "计数", 7100000000000000001)
    replies = [bob.deliver(xml) for _ in range(3)]
    assert [r.status for r in replies] == [200, 200, 200]
    assert [r.content for r in replies] == ["第1次"] * 3
    assert replies[1].fields == replies[0].fields == replies[2].fields
    assert runs == [("count", bob.openid)]
    assert [(e.type, e.msg_id) for e in events(app)] == [("text", 7100000000000000001)]
    assert jobs.queued() == [JOB]


def test_two_fans_whose_pushes_carry_the_same_msgid_are_each_answered(app, phone, runs):
    """§2: a retry is the same sender's push again; another fan's push with that MsgId (a broken
    proxy, a forged push) runs for them and never receives the first fan's cached reply."""
    bob, carol = phone("bob"), phone("carol")
    assert bob.deliver(text_xml(bob, "计数", 7100000000000000009)).content == "第1次"
    assert carol.deliver(text_xml(carol, "计数", 7100000000000000009)).content == "第2次"
    assert runs == [("count", bob.openid), ("count", carol.openid)]


def test_a_follow_delivered_three_times_follows_once(app, wx):
    """§2: an event has no MsgId; FromUserName+CreateTime+Event dedupes the subscribe retries."""
    xml = wx.xml({"MsgType": "event", "Event": "subscribe"})
    replies = [wx.deliver(xml) for _ in range(3)]
    assert [r.content for r in replies] == [WELCOME] * 3
    assert fan(app, wx.openid).follow_count == 1
    assert [e.type for e in events(app)] == ["subscribe"]


def test_a_click_delivered_three_times_runs_once(app, wx, runs):
    """§2: a CLICK retry (same sender, CreateTime, Event, EventKey) replays the first answer."""
    xml = wx.xml({"MsgType": "event", "Event": "CLICK", "EventKey": "A"})
    assert [wx.deliver(xml).content for _ in range(3)] == ["菜单A"] * 3
    assert runs == [("click", "A")]
    assert len(events(app)) == 1


def test_two_clicks_in_the_same_second_both_run(app, wx, runs, clock):
    """§2: Event+EventKey join the key, so two taps in one second are two pushes, not a retry."""
    second = int(clock.timestamp())
    a = wx.xml({"MsgType": "event", "Event": "CLICK", "EventKey": "A"}, second)
    b = wx.xml({"MsgType": "event", "Event": "CLICK", "EventKey": "B"}, second)
    assert [wx.deliver(a).content, wx.deliver(b).content] == ["菜单A", "菜单B"]
    assert runs == [("click", "A"), ("click", "B")]
    assert [e.key for e in events(app)] == ["A", "B"]


def test_concurrent_deliveries_run_once_and_share_the_reply(app, phone, runs):
    """§2: repeats arriving while the first still runs wait for its reply (REPLAY_WAIT > 0.3 s)."""
    bob = phone("bob")
    xml = text_xml(bob, "慢一点", 7100000000000000002)
    results = deliver_together(app, [(bob, xml)] * 3)
    assert [(status, content) for status, content, _ in results] == [(200, "慢慢来：慢一点")] * 3
    assert [entry[0] for entry in runs] == ["enter", "exit"]
    assert len(events(app)) == 1


def test_the_dedup_key_lives_past_the_retry_window_and_then_lets_go(app, wx, runs):
    """§2: the SET NX key carries a TTL of at least 60 s; once it expired the push counts as new."""
    redis = app.extensions["redis"]
    xml = text_xml(wx, "计数", 7100000000000000003)
    assert wx.deliver(xml).content == "第1次"
    key = seen_key(wx, xml)
    assert 60 <= redis.ttl(key) <= keys.SEEN_TTL
    assert keys.SEEN_TTL >= 60
    redis.delete(key)                  # what the TTL does once it runs out
    assert wx.deliver(xml).content == "第2次"
    assert len(runs) == 2


def test_a_failed_push_replays_its_apology_and_does_not_poison_the_fan(app, wx, runs, jobs):
    """§2: WeChat retries only unanswered pushes; the apology was the answer, so a retry replays it
    at once (the key holds the reply, not "pending"), the handler runs once, the next push works."""
    redis = app.extensions["redis"]
    xml = text_xml(wx, "失败", 7100000000000000004)
    first = wx.deliver(xml)
    assert first.content == pipeline.APOLOGY
    assert redis.get(seen_key(wx, xml)) not in (None, PENDING)
    began = time.monotonic()
    assert [wx.deliver(xml).content for _ in range(2)] == [pipeline.APOLOGY] * 2
    assert time.monotonic() - began < 1
    assert runs == [("broken", wx.openid)]
    assert [(e.type, e.outcome) for e in events(app)] == [("text", "error")]
    assert wx.text("计数") == "第2次"
    assert jobs.queued() == [JOB]


def test_one_fans_pushes_never_interleave(app, wx, runs):
    """DESIGN.md step 4: the fan lock serialises two different pushes from one person."""
    results = deliver_together(app, [(wx, text_xml(wx, "慢1", 7100000000000000005)),
                                     (wx, text_xml(wx, "慢2", 7100000000000000006))])
    assert sorted(content for _, content, _ in results) == ["慢慢来：慢1", "慢慢来：慢2"]
    assert [entry[0] for entry in runs] == ["enter", "exit", "enter", "exit"]
    assert runs[1][2] <= runs[2][2]
    assert len(events(app)) == 2


def test_the_lock_is_per_fan(app, phone, runs):
    """DESIGN.md step 4: alice's held lock does not make bob wait."""
    alice, bob = phone("alice"), phone("bob")
    held = app.extensions["redis"].lock(keys.fan_lock(alice.account.slug, alice.openid), timeout=10)
    assert held.acquire(blocking=False)
    try:
        began = time.monotonic()
        assert bob.text("计数") == "第1次"
        assert time.monotonic() - began < pipeline.FAN_LOCK_WAIT / 2
    finally:
        held.release()


def test_two_fans_at_once_are_both_served_and_overlap_where_the_database_allows(app, phone, runs):
    """DESIGN.md step 4: two fans' pushes never wait for each other's lock; their turns overlap on
    PostgreSQL, while embedded SQLite (one writer, BEGIN IMMEDIATE: models/db.py) queues them."""
    alice, bob = phone("alice"), phone("bob")
    results = deliver_together(app, [(alice, text_xml(alice, "慢A", 7100000000000000007)),
                                     (bob, text_xml(bob, "慢B", 7100000000000000008))])
    assert sorted(content for _, content, _ in results) == ["慢慢来：慢A", "慢慢来：慢B"]
    times = {(step, openid): at for step, openid, at in runs}
    overlap = (times["enter", bob.openid] < times["exit", alice.openid]
               and times["enter", alice.openid] < times["exit", bob.openid])
    assert overlap == (app.extensions["engine"].dialect.name != "sqlite")


def test_the_event_row_records_what_was_pushed(app, wx, runs, clock):
    """DESIGN.md: every push is an event row (who, which account, what, key, when, how it went)."""
    start = clock.timestamp()
    wx.send("text", {"Content": "计数"}, msg_id=7100000000000000010)
    clock.advance(seconds=1)
    wx.follow("123")
    clock.advance(seconds=1)
    wx.click("B")
    clock.advance(seconds=1)
    wx.text("失败")
    rows = events(app)
    assert {(e.account_id, e.openid) for e in rows} == {(wx.account.id, wx.openid)}
    assert [(e.type, e.key, e.outcome) for e in rows] == [
        ("text", None, "ok"), ("subscribe_scan", "123", "ok"), ("click", "B", "ok"),
        ("text", None, "error")]
    assert rows[0].msg_id == 7100000000000000010 and rows[0].data == {"Content": "计数"}
    assert rows[1].msg_id is None and rows[1].data == {"Ticket": "sandbox"}
    assert [e.sent_at.timestamp() - start for e in rows] == [0, 1, 2, 3]


def test_redis_down_is_a_503_not_a_500(app, wx, monkeypatch):
    """Without Redis there is no dedup or lock: WeChat is asked to deliver again (§2)."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    def down(*args, **kwargs):
        raise RedisConnectionError("redis is down")
    monkeypatch.setattr(app.extensions["redis"], "set", down)
    monkeypatch.setattr(app.extensions["redis"], "get", down)
    assert wx.send("text", {"Content": "你好"}).status == 503


def test_a_failure_after_commit_still_answers(app, wx, monkeypatch, caplog):
    """The turn committed: the fan gets the answer even if saving the conversation fails."""
    from bot.push_gate import PushGate

    def broken(self, conv, reply):
        raise RuntimeError("redis hiccup")
    monkeypatch.setattr(PushGate, "leave", broken)
    assert "没太明白" in wx.text("你好")
    assert "after-commit step failed" in caplog.text
