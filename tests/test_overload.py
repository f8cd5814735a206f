"""No push lost under overload (bot/hand_off.py, bot/overload.py): a push that cannot be
answered in time (the fan's lock held past the wait, or a long wait in a queue before it reached
us) is acknowledged at once, in one Redis script, and finished by a worker, whose answer reaches
the fan as a customer-service message (WECHAT-PLATFORM.md §2: WeChat is not documented to retry
a 503; §4.7: the push opened the window). Exactly once, however often WeChat retries, however
often a finisher runs, and when a finisher is killed holding its batch."""
import time

from outbound_support import CUSTOM_SEND, custom_texts
from sqlalchemy import select

from cost_support import counting

from bot import keys, overload, pipeline
from bot.hand_off import FINISH_JOB, FINISHER_GROUP
from workers.pushes import finish_deferred_pushes
from handlers.common import FALLBACK
from models import Event, KeywordReply
from models.keyword import EXACT
from tests.conftest import WELCOME


DELIVER_JOB = "workers.messaging.deliver_pending"


def hold_lock(app, wx):
    lock = app.extensions["redis"].lock(keys.fan_lock(wx.account.slug, wx.openid), timeout=10)
    assert lock.acquire(blocking=False)
    return lock


def following(person, clock, jobs) -> None:
    """A follower (WeChat knows them), the follow's jobs done and its one-minute window past."""
    assert person.follow() == WELCOME
    jobs.run_all()
    clock.advance(minutes=2)


def deferred_while_busy(app, person, clock, jobs, monkeypatch) -> None:
    """A follower's 你好 that finds their lock held past the wait: acknowledged, handed off."""
    monkeypatch.setattr(pipeline, "FAN_LOCK_WAIT", 0.1)
    following(person, clock, jobs)
    held = hold_lock(app, person)
    person.text("你好")
    held.release()


def event_count(db) -> int:
    db.rollback()        # a fresh read (SQLite keeps a transaction's snapshot)
    return len(db.scalars(select(Event.id)).all())


def test_a_fan_whose_lock_is_held_is_acknowledged_then_answered_by_customer_service(
        app, wx, world, jobs, db, monkeypatch, clock):
    monkeypatch.setattr(pipeline, "FAN_LOCK_WAIT", 0.2)
    following(wx, clock, jobs)
    held = hold_lock(app, wx)
    push = wx.xml({"MsgType": "text", "Content": "今天天气怎么样", "MsgId": 7_800_000_000_000_000_001})
    started = time.monotonic()
    first = wx.deliver(push, user_event="message")
    assert (first.status, first.body) == (200, b"success") and time.monotonic() - started < 1
    assert [wx.deliver(push).body for _ in range(2)] == [b"success"] * 2    # WeChat's retries
    assert jobs.queued() == [FINISH_JOB] and event_count(db) == 1      # the follow's
    held.release()
    jobs.run_all()
    assert custom_texts(world, wx) == [FALLBACK]
    assert event_count(db) == 2
    assert wx.deliver(push).body == b"success"        # a late retry: acknowledged, nothing runs
    jobs.run_all()
    assert custom_texts(world, wx) == [FALLBACK] and event_count(db) == 2


def deferred_xml(app, account) -> list[str]:
    stream = app.extensions["redis"].xrange(keys.deferred_pushes(account.slug))
    return [fields[b"xml"].decode() for _, fields in stream]


def test_a_push_finished_twice_runs_its_turn_once(app, wx, world, jobs, db, monkeypatch, clock):
    deferred_while_busy(app, wx, clock, jobs, monkeypatch)
    [xml] = deferred_xml(app, wx.account)
    with app.app_context():
        overload.finish_deferred(app, wx.account.slug, xml)
        overload.finish_deferred(app, wx.account.slug, xml)
    jobs.run_all()
    assert custom_texts(world, wx) == [FALLBACK] and event_count(db) == 2


def test_a_finisher_delivers_the_answer_itself_not_by_one_more_job(app, wx, world, jobs, monkeypatch, clock):
    deferred_while_busy(app, wx, clock, jobs, monkeypatch)
    with app.app_context():
        assert finish_deferred_pushes(wx.account.slug, 0) == 1
    assert custom_texts(world, wx) == [FALLBACK]
    assert DELIVER_JOB not in jobs.queued()
    jobs.run_all()
    assert custom_texts(world, wx) == [FALLBACK]


def test_wechat_busy_at_the_finishers_delivery_leaves_it_to_a_job_with_its_retries(
        app, wx, world, jobs, monkeypatch, clock):
    deferred_while_busy(app, wx, clock, jobs, monkeypatch)
    world.fail_next(CUSTOM_SEND, -1, times=1, appid=wx.account.appid)      # -1: system busy (§5)
    with app.app_context():
        assert finish_deferred_pushes(wx.account.slug, 0) == 1
    assert custom_texts(world, wx) == [] and DELIVER_JOB in jobs.queued()
    jobs.run_all()
    assert custom_texts(world, wx) == [FALLBACK]


def test_a_finisher_killed_holding_its_batch_leaves_it_to_the_next_run(app, wx, world, jobs, db,
                                                                       monkeypatch, clock):
    """The killed run had read the entry (it is pending with that consumer) and never finished
    it: the next run takes it back once it is ABANDONED_MS old, and the fan hears once."""
    deferred_while_busy(app, wx, clock, jobs, monkeypatch)
    redis, stream = app.extensions["redis"], keys.deferred_pushes(wx.account.slug)
    assert redis.xreadgroup(FINISHER_GROUP, "killed-run", {stream: ">"}, count=10)
    jobs.run_all()                                     # too soon: the entry is not abandoned yet
    assert custom_texts(world, wx) == [] and redis.xlen(stream) == 1
    monkeypatch.setattr(overload, "ABANDONED_MS", 0)
    with app.app_context():
        assert finish_deferred_pushes(wx.account.slug, 0) == 1
    jobs.run_all()
    assert custom_texts(world, wx) == [FALLBACK] and event_count(db) == 2 and redis.xlen(stream) == 0


def test_a_late_push_is_handed_off_in_one_round_trip(app, wx, jobs, monkeypatch, clock):
    """Under a burst the hand-off is the whole cost of a late push: one script (claim, window,
    stream, the finisher's flag) and, only for the first of a backlog, the finisher's job."""
    following(wx, clock, jobs)
    wx.text("你好")                                    # the process's account copy, scripts known
    clock.advance(seconds=1)
    on_time, app.config["DEFER_AFTER_S"] = app.config["DEFER_AFTER_S"], 0    # every push is late
    try:
        with counting(monkeypatch, app) as first:
            assert wx.text("第一条") is None
        clock.advance(seconds=1)
        with counting(monkeypatch, app) as second:
            assert wx.text("第二条") is None
    finally:
        app.config["DEFER_AFTER_S"] = on_time
    assert first.sql == second.sql == []
    assert len(second.redis) == 1, second              # a finisher is asked for already
    assert jobs.queued() == [FINISH_JOB]
    jobs.run_all()


def test_a_backlog_asks_for_more_finishers_and_they_share_it(app, phone, world, jobs, monkeypatch, clock):
    """One finisher per BACKLOG_PER_FINISHER waiting, at most FINISHERS: every push is finished
    once, whichever run took it."""
    from bot import hand_off
    monkeypatch.setattr(hand_off, "BACKLOG_PER_FINISHER", 2)
    fans = [phone(name) for name in ("alice", "bob", "carol", "dave", "erin", "frank", "grace")]
    for fan in fans:
        following(fan, clock, jobs)
    on_time, app.config["DEFER_AFTER_S"] = app.config["DEFER_AFTER_S"], 0    # every push is late
    try:
        for fan in fans:
            assert fan.text("你好") is None
    finally:
        app.config["DEFER_AFTER_S"] = on_time
    assert jobs.queued() == [FINISH_JOB] * hand_off.FINISHERS
    jobs.run_all()
    assert [custom_texts(world, fan) for fan in fans] == [[FALLBACK]] * len(fans)


def test_a_push_that_waited_too_long_before_us_is_finished_by_a_worker_in_safe_mode(
        app, phone, world, jobs, db, account, clock):
    db.add(KeywordReply(account_id=account.id, keyword="营业时间", match=EXACT, reply="每天 9:00-18:00"))
    db.commit()
    bob = phone("bob", mode="safe")
    following(bob, clock, jobs)
    push = bob.xml({"MsgType": "text", "Content": "营业时间", "MsgId": 7_800_000_000_000_000_002})
    world.user_event(account.appid, bob.openid, "message")       # what WeChat sees: a text
    query, body = bob.wrap(push)
    response = app.test_client().post(f"/wechat/{account.slug}", query_string=query, data=body,
                                      headers={"X-Request-Start": f"t={time.time() - 3:.3f}"})
    assert (response.status_code, response.data) == (200, b"")   # AES mode: the empty answer
    jobs.run_all()
    assert custom_texts(world, bob) == ["每天 9:00-18:00"]
    assert bob.text("营业时间") == "每天 9:00-18:00"             # on time again: passive


def test_a_worker_that_still_finds_the_lock_held_tries_again_later(app, wx, world, jobs, monkeypatch, clock):
    """The entry goes to the back of the stream; a run that spends its budget asks for its
    successor, which finishes it once the lock is free."""
    monkeypatch.setattr(pipeline, "FAN_LOCK_WAIT", 0.1)
    monkeypatch.setattr(overload, "WORKER_LOCK_WAIT", 0.1)
    monkeypatch.setattr(overload, "RUN_BUDGET_S", 0.5)
    following(wx, clock, jobs)
    held = hold_lock(app, wx)
    wx.text("你好")
    with app.app_context():
        assert finish_deferred_pushes(wx.account.slug, 0) == 0
    assert custom_texts(world, wx) == [] and len(deferred_xml(app, wx.account)) == 1
    assert jobs.queued() == [FINISH_JOB, FINISH_JOB]    # the first hand-off's, and the successor
    held.release()
    jobs.run_all()
    assert custom_texts(world, wx) == [FALLBACK] and deferred_xml(app, wx.account) == []


def test_the_sweep_asks_for_a_finisher_of_a_stream_left_waiting(app, wx, world, jobs, monkeypatch, clock):
    """Its finisher was never queued (Redis failed between the hand-off and the enqueue): the
    sweep finds the oldest entry waiting past STALLED_AFTER_S and asks for one."""
    from workers import pushes
    monkeypatch.setattr(pipeline, "FAN_LOCK_WAIT", 0.1)
    following(wx, clock, jobs)
    held = hold_lock(app, wx)
    monkeypatch.setattr("bot.hand_off.ask_finishers", lambda *args: None)
    wx.text("你好")
    monkeypatch.undo()
    held.release()
    assert jobs.queued() == []
    with app.app_context():
        assert pushes.sweep_deferred() == 0               # not waiting long enough yet
        monkeypatch.setattr(pushes, "STALLED_AFTER_S", 0)
        assert pushes.sweep_deferred() == 1
    jobs.run_all()
    assert custom_texts(world, wx) == [FALLBACK]


def test_the_sweep_forgets_the_consumers_of_failed_runs_once_nothing_is_pending(app, wx, jobs, monkeypatch,
                                                                                clock):
    from workers import pushes
    deferred_while_busy(app, wx, clock, jobs, monkeypatch)
    redis, stream = app.extensions["redis"], keys.deferred_pushes(wx.account.slug)
    redis.xgroup_createconsumer(stream, FINISHER_GROUP, "failed-run")      # held nothing
    assert redis.xreadgroup(FINISHER_GROUP, "killed-run", {stream: ">"}, count=10)   # holds one
    monkeypatch.setattr(pushes, "ABANDONED_MS", 0)
    time.sleep(0.01)
    with app.app_context():
        pushes.sweep_deferred()
    assert [c["name"] for c in redis.xinfo_consumers(stream, FINISHER_GROUP)] == [b"killed-run"]


def test_a_card_whose_passive_reply_is_gone_arrives_as_a_customer_service_news_message(
        app, wx, world, jobs, db, monkeypatch, clock):
    """商城 answers with a one-article card, which only a passive reply or a customer-service news
    message can carry (§3.4, §4.7): a worker-finished 商城 sends the card, once."""
    monkeypatch.setattr(pipeline, "FAN_LOCK_WAIT", 0.1)
    following(wx, clock, jobs)
    held = hold_lock(app, wx)
    assert wx.text("商城") is None                      # acknowledged: "success"
    held.release()
    jobs.run_all()
    jobs.run_all()
    sent = [m for m in world.messages_to(wx.account.appid, wx.openid) if m["kind"] == "custom"]
    assert [m["msgtype"] for m in sent] == ["news"]
    [article] = sent[0]["payload"]["news"]["articles"]
    assert article["title"] == "积分商城" and article["url"].endswith(f"/h5/{wx.account.slug}/mall/")


def test_without_customer_service_messages_the_card_waits_as_a_text(app, phone, world, jobs, db, monkeypatch,
                                                                     clock, make_account):
    """An unverified account cannot send customer-service messages (§5.1): the card would wait for
    the fan's next passive reply, which carries texts only, so it waits as its title and link."""
    monkeypatch.setattr(pipeline, "FAN_LOCK_WAIT", 0.1)
    sub = make_account(slug="sub", appid="wx0sub0000000000c3", token="subtoken", original_id="gh_sub00000000c3",
                       type="subscription", verified=False, name="华东旅行")
    carol = phone("carol", account=sub)
    following(carol, clock, jobs)
    held = hold_lock(app, carol)
    carol.text("服务号")
    held.release()
    jobs.run_all()
    clock.advance(seconds=1)
    reply = carol.text("你好")
    card, answer = reply.split("\n\n")
    assert card.startswith("关注「HQ」，会员权益通用：http") and answer.startswith("没太明白您的意思")
