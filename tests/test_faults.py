"""Faults during pushes and jobs, as transcripts: what the fan saw, what was stored, what was
retried. Redis is a real redis-server stopped and started again; database statements are
cancelled by the database itself (statement_timeout on PostgreSQL)."""
import pytest
from outbound_support import CUSTOM_SEND, custom_texts, run_due_retries, states
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from redis import Redis
from redis.exceptions import ConnectionError as RedisDown

from bot import create_app
from bot.jobs import committed
from bot.pipeline import APOLOGY
from bot.sandbox.phone import Phone, sandbox_openid
from bot.sandbox.state import SandboxWeChat
from bot.telling import Teller
from handlers.common import FALLBACK
from models import Account, Event, Fan
from tests.conftest import SAMPLE, Jobs, empty_tables, poster
from workers.messaging import sweep_pending
from tests.fault_support import cancel_next


def rows(app, model, *where) -> int:
    with app.extensions["db"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def app_on_redis_process(database_url, redis_process, clock):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "REDIS": Redis.from_url(redis_process.url),
                      "CLOCK": clock, "SANDBOX": True, "JOBS_INLINE": False, "STRICT_STATES": True})
    yield app
    empty_tables(app.extensions["engine"])


def test_redis_down_and_back_during_pushes(app_on_redis_process, redis_process, clock):
    """Redis down: every delivery of a push gets 503 and leaves nothing (no dedup, no lock: it
    must not run); WeChat delivers it again; once Redis is back, that delivery is answered and
    recorded once, and the fan's earlier state (account cache, dedup, windows) is still there."""
    app = app_on_redis_process
    with app.extensions["db"]() as s:
        s.add(Account(**SAMPLE))
        s.commit()
    world = SandboxWeChat(app.extensions["redis"], clock)
    world.register_account(SAMPLE["appid"], SAMPLE["secret"], "service", True, SAMPLE["original_id"])
    with app.extensions["db"]() as s:
        account = s.scalar(select(Account))
    alice = Phone(poster(app), account, sandbox_openid("hq", "alice"), "safe", world, clock)
    assert alice.text("你好") == FALLBACK

    redis_process.stop()
    push = alice.xml({"MsgType": "text", "Content": "你好呀", "MsgId": 7_300_000_000_000_000_001})
    assert [alice.deliver(push).status for _ in range(2)] == [503, 503]    # WeChat's first two tries
    assert rows(app, Event) == 1 and rows(app, Fan) == 1

    redis_process.start()
    assert alice.deliver(push).content == FALLBACK                        # its third try
    assert alice.deliver(push).content == FALLBACK                        # a late retry: replayed
    assert rows(app, Event) == 2


def test_redis_down_when_a_notice_is_queued_the_sweep_delivers_it_once(app_on_redis_process, redis_process,
                                                                      clock):
    """Redis goes down just as an operator's notice commits: the command fails loudly (its
    delivery job could not be queued) but the message is kept pending, not lost. Once Redis is
    back, the sweep asks for the delivery the queue never had; bob gets it once, and a second
    sweep finds nothing to ask for. (Down before the commit, the write itself is refused: the
    caches' flag is set before a commit, bot/facts.py, so nothing is stored and nothing is lost.)"""
    app = app_on_redis_process
    with app.extensions["db"]() as s:
        s.add(Account(**SAMPLE))
        s.commit()
    world = SandboxWeChat(app.extensions["redis"], clock)
    world.register_account(SAMPLE["appid"], SAMPLE["secret"], "service", True, SAMPLE["original_id"])
    with app.extensions["db"]() as s:
        account = s.scalar(select(Account))
    bob = Phone(poster(app), account, sandbox_openid("hq", "bob"), "safe", world, clock)
    assert bob.text("你好") == FALLBACK                      # bob's window is open

    redis_process.stop()                                 # down before: the write is refused
    with pytest.raises(RedisDown):
        with committed(app) as (db, buffer):
            Teller(db, buffer, clock.now()).tell((account.id, bob.openid), "明早八点集合")
    redis_process.start()
    assert states(app, bob) == []

    def redis_goes_down(session):
        if redis_process.process.poll() is None:
            redis_process.stop()
    try:
        with pytest.raises(RedisDown):
            with committed(app) as (db, buffer):
                Teller(db, buffer, clock.now()).tell((account.id, bob.openid), "明早八点集合")
                event.listen(Session, "after_commit", redis_goes_down)
    finally:
        event.remove(Session, "after_commit", redis_goes_down)
    redis_process.start()
    assert states(app, bob) == [("pending", None)]

    with app.app_context():
        assert sweep_pending() == 0                            # within the grace: its job may still run
        clock.advance(minutes=3)
        assert sweep_pending() == 1
    Jobs(app).run_all()
    assert custom_texts(world, bob) == ["明早八点集合"]
    assert states(app, bob) == [("sent", "custom")]
    with app.app_context():
        clock.advance(minutes=10)
        assert sweep_pending() == 0


def test_the_sweep_leaves_a_message_a_delivery_run_left_waiting(relay, phone, world, jobs, clock):
    """bob never wrote, so no customer-service window is open: the delivery run leaves the
    message for bob's next reply. The sweep does not ask WeChat again every few minutes;
    bob's next message carries it."""
    alice, bob = phone("alice"), phone("bob")
    alice.text("告诉 bob 晚上七点开会")
    jobs.run_all()
    assert states(relay, bob) == [("pending", None)] and custom_texts(world, bob) == []
    calls = len(world.calls(CUSTOM_SEND))
    clock.advance(minutes=30)
    with relay.app_context():
        assert sweep_pending() == 0
    assert jobs.run_all() == 0 and len(world.calls(CUSTOM_SEND)) == calls
    assert "晚上七点开会" in bob.text("在吗")


@pytest.fixture
def slow_statement(app):
    made = []
    yield lambda start: made.append(cancel_next(app.extensions["engine"], start)) or made[-1]
    for state in made:
        state["remove"]()


def test_a_statement_timeout_during_a_push_gets_the_apology_and_stores_only_the_failure(app, wx,
                                                                                    slow_statement):
    """The push's first write is cancelled: the fan gets the apology (never a 500, never
    silence), only an error event is stored (the fan row rolled back with the rest), WeChat is
    not asked to retry (200), and the fan's next message is served normally."""
    state = slow_statement("INSERT INTO fan")
    assert wx.text("你好") == APOLOGY and wx.last.status == 200
    assert state["fired"]
    with app.extensions["db"]() as s:
        assert s.execute(select(Event.type, Event.outcome)).all() == [("text", "error")]
        assert s.scalar(select(func.count()).select_from(Fan)) == 0
    assert wx.text("你好") == FALLBACK


def test_a_statement_timeout_during_a_delivery_job_is_retried_and_sends_once(relay, phone, world, jobs,
                                                                           slow_statement):
    """The delivery job's read of what waits is cancelled: the job fails, rq retries it (5 s),
    the message stays pending meanwhile, and the retry sends it exactly once."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    alice.text("告诉 bob 晚上七点开会")
    state = slow_statement("SELECT outbound_message.id")
    jobs.run_all()
    assert state["fired"] and custom_texts(world, bob) == []
    assert states(relay, bob) == [("pending", None)]
    assert run_due_retries(jobs) == 1
    jobs.run_all()
    assert custom_texts(world, bob) == ["晚上七点开会"]
    assert [c["errcode"] for c in world.calls(CUSTOM_SEND)] == [0]
    assert states(relay, bob) == [("sent", "custom")] and jobs.failed() == 0
