"""Fans asking for a person at the same instant, each in a worker of its own (issue #6 Must
show): no agent goes over capacity, each conversation goes to one agent, the queue positions
are 1, 2, 3…; a fan asking twice at once gets one conversation. PostgreSQL serialises the final
claim on the agents' rows (SELECT … FOR UPDATE, bot/cs/assign.py), SQLite on its write lock
(BEGIN IMMEDIATE): both run this. The count of open conversations is made slow here, so every
worker has counted before any commits unless the lock makes them take turns (without the lock
all eight are assigned, over capacity)."""
import time

import pytest
from sqlalchemy import select

import concurrency_support
from bot.cs import assign
from cs_sim import Sim
from models.cs import Conversation

ARRIVALS = 8


@pytest.fixture
def slow_count(monkeypatch):
    real = assign.open_counts

    def counted_then_wait(db, staff_ids):
        loads = real(db, staff_ids)
        time.sleep(0.2)
        return loads
    monkeypatch.setattr(assign, "open_counts", counted_then_wait)


def test_fans_opening_at_the_same_instant_never_push_an_agent_over_capacity(app, clock, slow_count):
    # 店0: one agent with room for 2; the default agent (店1) has room for 1.
    sim = Sim(app, clock, [(0, 2, False, True), (1, 1, True, True)], [0] * ARRIVALS)
    store_agent, default_agent = sim.agents
    for _round in range(2):
        sim.mark = sim.last_assignment()
        opened = concurrency_support.at_once([lambda i=i: sim.open_alone(i) for i in range(ARRIVALS)])
        sim.check()
        agents = [agent for _, agent, _ in opened]
        assert sorted(filter(None, agents)) == [store_agent, store_agent, default_agent]
        assert sorted(p for _, agent, p in opened if agent is None) == list(range(1, ARRIVALS - 2))
        # The three agents' conversations close at the same moment; the drains run at once too.
        served = [cid for cid, agent, _ in opened if agent is not None]
        sim.mark = sim.last_assignment()
        concurrency_support.at_once([lambda c=c: sim.close_alone(c) for c in served])
        sim.check()
        with sim.tx() as db:
            waiting = db.scalars(select(Conversation.id).where(Conversation.account_id == sim.account_id,
                                                               Conversation.status == "waiting")
                                 .order_by(Conversation.id)).all()
            queued_first = sorted((p, cid) for cid, agent, p in opened if agent is None)
            assert waiting == [cid for _, cid in queued_first][3:]      # the oldest three were served
        for i in range(ARRIVALS):                                       # the round ends; all leave
            with sim.tx() as db:
                sim.close(db, i, "fan")
        sim.check()


def test_one_fan_asking_twice_at_once_gets_one_conversation(app, clock, slow_count):
    sim = Sim(app, clock, [(0, 2, False, True)], [0])
    first, second = concurrency_support.at_once([lambda: sim.open_alone(0)] * 2)
    assert first[0] == second[0]
    sim.check()
