"""The customer-service harness driven through the lifecycle API (tests/cs_support.py builds its
roster), one transaction per step as workers run them, with the invariants the engine
promises. Used by the property test and the concurrency test. Every Sim has its own account,
stores, agents and fans, so no table is emptied between examples. No tests here."""
import itertools
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import func, select

from bot.cs import timeouts
from bot.cs.agents import set_shift
from bot.cs.lifecycle import assign_waiting, close_conversation, open_for, open_conversation, transfer
from cs_support import add_agent, add_store
from models import Account, Company, Fan, Staff
from models.cs import ASSIGNED, CLOSED, WAITING, AgentState, Assignment, Conversation

N = itertools.count(1)


class Sim:
    """Two stores, the agents and fans of one example; `step` runs one operation, `check` the
    invariants; drain jobs wait in `jobs` until a run_jobs step."""

    def __init__(self, app, clock, agents, fans):
        self.app, self.clock = app, clock
        self.jobs: list[tuple] = []
        self.mark = 0                  # assignments up to this id were made before the step
        n = next(N)
        with self.tx() as db:
            account = Account(slug=f"p{n}", type="service", verified=True, appid=f"wxprop{n:012d}", secret="s",
                              token="t", name="P")
            company = Company(code=f"PC{n}", name="C")
            db.add_all([account, company])
            db.flush()
            self.stores = [add_store(db, f"P{n}S{i}", f"店{i}", company) for i in range(2)]
            self.account_id = account.id
            self.agents = []
            for i, (store, capacity, default, on) in enumerate(agents):
                fan = Fan(account_id=account.id, openid=f"p{n}a{i}", following=True)
                db.add(fan)
                db.flush()
                staff = add_agent(db, fan, f"客服{i}", self.stores[store].id, capacity, default,
                                  phone=f"1{n:05d}{i:05d}")
                db.add(AgentState(staff_id=staff.id, on_shift=on, idle_since=clock.now()))
                self.agents.append(staff.id)
            self.fans = []
            for i, store in enumerate(fans):
                fan = Fan(account_id=account.id, openid=f"p{n}f{i}", following=True,
                          store_id=self.stores[store].id if store is not None else None)
                db.add(fan)
                db.flush()
                self.fans.append(fan.id)
            self.store_ids = [s.id for s in self.stores]

    @contextmanager
    def tx(self):
        """One transaction of its own, committed at the end, as a worker's."""
        with self.app.extensions["db"]() as db, db.begin():
            yield db

    def enqueue(self, func, *args, **_options):
        self.jobs.append((func, args))

    @staticmethod
    def tell(person, text):
        pass

    def step(self, op):
        kind, *args = op
        self.mark = self.last_assignment()
        if kind in ("wait", "run_jobs"):
            getattr(self, kind)(*args)
        else:
            with self.tx() as db:
                getattr(self, kind)(db, *args)

    def run_jobs(self):
        """The drain jobs the steps asked for run now (until then, room may go unused)."""
        while self.jobs:
            func, args = self.jobs.pop(0)
            if func == "workers.cs.drain_queue":
                with self.tx() as db:
                    assign_waiting(db, args[0], self.clock.now(), self.tell, self.enqueue)

    def open(self, db, i):
        account = db.get(Account, self.account_id)
        open_conversation(db, account, db.get(Fan, self.fans[i]), self.clock.now(), self.tell, self.enqueue)

    def close(self, db, i, by):
        c = open_for(db, self.fans[i])
        if c is not None:
            close_conversation(db, c, self.clock.now(), by, self.tell, self.enqueue)

    def shift(self, db, j, on):
        set_shift(db, db.get(Staff, self.agents[j]), on, self.clock.now(), self.enqueue)

    def transfer(self, db, i, target):
        c = open_for(db, self.fans[i])
        if c is not None and c.status == ASSIGNED:
            names = [f"客服{j}" for j in range(len(self.agents))] + [s.code for s in self.stores]
            transfer(db, c, names[target % len(names)], self.clock.now(), self.tell, self.enqueue)

    def capacity(self, db, j):
        """The roster raises an agent's capacity; the room is used by the next sweep."""
        db.get(Staff, self.agents[j]).capacity += 1
        self.enqueue("workers.cs.drain_queue", self.account_id)

    def wait(self, minutes):
        """Time passes and the sweep runs (each action in its own transaction, as the job does)."""
        self.clock.advance(minutes=minutes)
        limits = timeouts.Limits(timedelta(minutes=30), timedelta(minutes=5), timedelta(minutes=10))
        with self.tx() as db:
            due = timeouts.due(db, self.clock.now(), limits)
        for action, conversation_id in due:
            with self.tx() as each:
                timeouts.run(each, action, conversation_id, self.clock.now(), limits, self.tell, self.enqueue)
        self.enqueue("workers.cs.drain_queue", self.account_id)

    def last_assignment(self) -> int:
        with self.tx() as db:
            return db.scalar(select(func.coalesce(func.max(Assignment.id), 0)))

    # --- the invariants -----------------------------------------------------------------------
    def check(self):
        with self.tx() as db:
            convs = db.scalars(select(Conversation).where(Conversation.account_id == self.account_id)
                               .order_by(Conversation.id)).all()
            staff = {s: db.get(Staff, s) for s in self.agents}
            states = {s: db.get(AgentState, s) for s in self.agents}
            load = {s: sum(1 for c in convs if c.status == ASSIGNED and c.agent_id == s) for s in self.agents}
            for s in self.agents:
                assert load[s] <= staff[s].capacity, (staff[s].name, load[s], staff[s].capacity)
                current = states[s].current_conversation_id
                assert current is None or any(c.id == current and c.agent_id == s and c.status == ASSIGNED
                                              for c in convs)
            open_ = [c.fan_id for c in convs if c.status != CLOSED]
            assert len(open_) == len(set(open_))

            def eligible(s, c):
                st_ = staff[s]
                return states[s].on_shift and (st_.default_agent
                                               or (c.store_id is not None and st_.store_id == c.store_id))

            waiting = [c for c in convs if c.status == WAITING]
            for c in convs:
                rows = db.scalars(select(Assignment).where(Assignment.conversation_id == c.id)
                                  .order_by(Assignment.id)).all()
                if c.status == ASSIGNED:
                    assert c.agent_id is not None and rows[-1].agent_id == c.agent_id
                elif c.status == WAITING:
                    assert c.agent_id is None and rows[-1].kind == "queued"
            for w in waiting if not self.jobs else []:       # a drain still to run may leave room unused
                free = [staff[s].name for s in self.agents if eligible(s, w) and load[s] < staff[s].capacity]
                assert not free, f"conversation {w.id} waits while {free} have room"
            fresh = db.scalars(select(Assignment).where(Assignment.id > self.mark, Assignment.agent_id.is_not(None),
                                                        Assignment.conversation_id.in_([c.id for c in convs]))).all()
            order = {c.id: c.id for c in convs}      # the queue's order
            for a in fresh:
                older = [w.id for w in waiting if order[w.id] < order[a.conversation_id] and eligible(a.agent_id, w)]
                assert not older, f"{staff[a.agent_id].name} took #{a.conversation_id} while older {older} waited"

    # --- one worker's transaction, for threads -------------------------------------------------
    def open_alone(self, i):
        """Fan i asks for a person in a transaction (and session) of its own: (agent id, position)."""
        with self.tx() as db:
            account = db.get(Account, self.account_id)
            opened = open_conversation(db, account, db.get(Fan, self.fans[i]), self.clock.now(), self.tell,
                                       lambda *a, **k: None)
            return opened.conversation.id, opened.agent.id if opened.agent else None, opened.position

    def close_alone(self, conversation_id):
        """An agent's 结束 and the drain that follows, each in its own transaction, as they run."""
        with self.tx() as db:
            close_conversation(db, db.get(Conversation, conversation_id), self.clock.now(), "agent", self.tell,
                               lambda *a, **k: None)
        with self.tx() as db:
            return assign_waiting(db, self.account_id, self.clock.now(), self.tell)
