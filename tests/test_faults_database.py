"""PostgreSQL going away, as a restart or a failover does it: the server ends the connections.
What the fan saw, what was stored, what was retried. (A file database has no server to lose: on
the embedded default these run as the statement-cancel faults of tests/test_faults.py; here they
run in CI's PostgreSQL pass.)"""
import pytest
from outbound_support import CUSTOM_SEND, custom_texts, run_due_retries, states
from sqlalchemy import func, select

from bot.pipeline import APOLOGY
from handlers.common import FALLBACK
from models import Event, Fan
from tests.fault_support import drop_connection_at, drop_every_connection


@pytest.fixture
def engine(app):
    engine = app.extensions["engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("a server ending connections needs a database server: CI's PostgreSQL pass runs this")
    return engine


@pytest.fixture
def dropped(engine):
    made = []
    yield lambda start: made.append(drop_connection_at(engine, start)) or made[-1]
    for state in made:
        state["remove"]()


def test_every_connection_ended_between_pushes_the_next_push_is_served(app, engine, wx):
    """A restart between two messages: the pool's connections are dead, the next push finds
    out before using one (pre-ping) and is answered as usual; nothing is stored twice."""
    assert wx.text("你好") == FALLBACK
    assert drop_every_connection(engine) >= 1
    assert wx.text("还在吗") == FALLBACK and wx.last.status == 200
    with app.extensions["db"]() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 2


def test_every_connection_ended_before_a_known_fans_common_push_it_is_served_and_recorded_once(
        app, engine, wx):
    """The common push's event row goes out on a pool without pre-ping: the insert finds its
    connection ended, is tried once more on a fresh one, and the fan notices nothing."""
    assert wx.text("你好") == FALLBACK          # the fan row is made and checked quiet
    assert wx.text("在吗") == FALLBACK          # the common path: its pool holds a connection now
    assert drop_every_connection(engine) >= 1
    assert wx.text("还在吗") == FALLBACK and wx.last.status == 200
    with app.extensions["db"]() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 3


def test_the_connection_ended_in_the_middle_of_a_push_gets_the_apology_and_stores_no_half(app, wx, dropped):
    """The server goes away as the push writes the fan: the fan gets the apology (200, never a
    500 that WeChat retries into a duplicate), the failed push is recorded on a fresh
    connection, no half of the push (the fan row) is kept, and the next message is served."""
    state = dropped("INSERT INTO fan")
    assert wx.text("你好") == APOLOGY and wx.last.status == 200
    assert state["fired"]
    with app.extensions["db"]() as s:
        assert s.execute(select(Event.type, Event.outcome)).all() == [("text", "error")]
        assert s.scalar(select(func.count()).select_from(Fan)) == 0
    assert wx.text("你好") == FALLBACK


def test_the_connection_ended_in_the_middle_of_a_delivery_job_is_retried_and_sends_once(
        relay, engine, phone, world, jobs, dropped):
    """The delivery job loses its connection as it reads what waits: the job fails, rq retries
    it, the message is still pending meanwhile, and the retry sends it exactly once."""
    alice, bob = phone("alice"), phone("bob")
    bob.text("在吗")
    alice.text("告诉 bob 晚上七点开会")
    state = dropped("SELECT outbound_message.id")
    jobs.run_all()
    assert state["fired"] and custom_texts(world, bob) == []
    assert states(relay, bob) == [("pending", None)]
    assert run_due_retries(jobs) == 1
    jobs.run_all()
    assert custom_texts(world, bob) == ["晚上七点开会"]
    assert [c["errcode"] for c in world.calls(CUSTOM_SEND)] == [0]
    assert states(relay, bob) == [("sent", "custom")] and jobs.failed() == 0
