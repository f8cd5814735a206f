"""A real rq worker (or its work horse) killed (SIGKILL) in the middle of a job, and the job
asked for again: nothing is sent twice, and what happened stays on record. WeChat (the sandbox)
takes the call, then holds its answer back, as a call in flight when the process dies."""
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import psutil
from killed_worker_support import app, clock, eventually, statuses, worker, workers  # noqa: F401 (fixtures)
from outbound_support import CUSTOM_SEND, custom_texts
from sqlalchemy import func, select, text

from bot import points
from bot.clock import CST
from bot.jobs import JobSpec
from bot.points.policy import load
from bot.points.rules_file import parse
from bot.sandbox.phone import Phone, sandbox_openid
from bot.sandbox.state import SandboxWeChat
from models import Account, LedgerEntry, Member
from tests.conftest import SAMPLE, poster
from tests.job_probes import PIDS
from workers.messaging import sweep_pending


def test_a_worker_killed_in_the_middle_of_a_delivery_never_sends_it_twice(app, clock, workers):
    """The customer-service message reached bob, then the worker died before it could say so (a
    delivery is a `high` job: it runs in the worker's own process). The five-minute sweep finds
    the claim of a dead run and asks for the delivery again; the run marks it unconfirmed instead
    of sending it again; the next message to bob goes out as usual."""
    worker = workers.start()
    with app.extensions["db"]() as s:
        s.add(Account(**SAMPLE))
        s.commit()
        account = s.scalar(select(Account))
    world = SandboxWeChat(app.extensions["redis"], clock)
    world.register_account(SAMPLE["appid"], SAMPLE["secret"], "service", True, SAMPLE["original_id"])
    alice, bob = (Phone(poster(app), account, sandbox_openid("hq", name), "plain", world, clock)
                  for name in ("alice", "bob"))
    bob.text("在吗")                                 # bob's window opens (WECHAT-PLATFORM.md §4.7)
    world.hang_next(CUSTOM_SEND, 60)
    alice.text("告诉 bob 晚上七点开会")

    def shown():
        """WeChat showed bob the message"""
        return custom_texts(world, bob) == ["晚上七点开会"]
    eventually(shown)
    assert statuses(app, bob.openid) == ["sending"]
    assert [p for p in psutil.Process(worker.pid).children() if p not in worker.scheduler] == []  # no horse
    for scheduler in worker.scheduler:               # the worker goes down with its scheduler
        scheduler.kill()
    worker.kill()
    worker.wait()
    workers.start(scheduler=False)
    # The worker claimed by the real clock: the test's clock catches up, past the claim's lease (1 s).
    clock.advance(seconds=(datetime.now(timezone.utc) - clock.now()).total_seconds() + 2)
    with app.app_context():
        assert sweep_pending() == 1                  # what the cron runs every five minutes

    def settled():
        """the delivery asked again found the dead claim"""
        return statuses(app, bob.openid) == ["unconfirmed"]
    eventually(settled)
    alice.text("告诉 bob 改到八点")

    def second():
        """the next message reached bob"""
        return statuses(app, bob.openid) == ["unconfirmed", "sent"]
    eventually(second)
    assert custom_texts(world, bob) == ["晚上七点开会", "改到八点"]


def test_high_jobs_run_in_the_worker_and_the_rest_in_a_forked_horse(app, worker):
    """The `high` queue is served without a fork per job (a fork was most of a relay's latency);
    `default` and `low` jobs still get a work horse of their own."""
    redis = app.extensions["redis"]
    for queue in ("high", "default", "low"):
        app.extensions["jobs"].submit(JobSpec("tests.job_probes.note_pid", (queue,), queue))
    pids = eventually(lambda: len(redis.hkeys(PIDS)) == 3 and redis.hgetall(PIDS))
    assert int(pids[b"high"]) == worker.pid
    assert worker.pid not in {int(pids[b"default"]), int(pids[b"low"])}


BIRTHDAY_RULES = """
levels:
  tiers:
    - {code: registered, name: 注册会员, growth: 0}
expiry: {policy: none}
rules:
  - {id: birthday, trigger: birthday, title: 生日礼, points: 200, growth: 20, frequency: {count: 1, per: year}}
"""


@contextmanager
def holding_up(app, member_id: int):
    """The job is held up on `member_id`: PostgreSQL locks that member's row; SQLite, whose
    locks are database-wide, holds its write lock."""
    with app.extensions["engine"].connect() as conn, conn.begin() as transaction:   # SQLite: BEGIN IMMEDIATE
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT id FROM member WHERE id = :id FOR UPDATE"), {"id": member_id})
        yield
        transaction.rollback()


def test_a_horse_killed_in_the_middle_of_the_birthdays_pays_each_member_once(app, clock, worker):
    """The day's birthday job dies while it is held up on the second member; rq runs it again
    and every member is paid once (the award's key carries the year), the first one too."""
    with points.transaction(app) as book:
        load(book.db, parse(BIRTHDAY_RULES))
    today = datetime.now(timezone.utc).astimezone(CST).date()
    with app.extensions["db"]() as s:
        s.add(Account(**SAMPLE))
        s.flush()
        born = [Member(phone=f"1390000000{n}", level="registered", birthday=today.replace(year=1990))
                for n in range(3)]
        s.add_all(born)
        s.commit()
        ids = [m.id for m in born]
    with holding_up(app, ids[1]):
        app.extensions["jobs"].submit(JobSpec("workers.points.award_birthdays", (), "low", retry=(1,)))
        horse = eventually(lambda: [p for p in psutil.Process(worker.pid).children() if p not in worker.scheduler])
        time.sleep(1.0)                       # the horse is inside the job, waiting on the lock
        horse[0].kill()

    def paid():
        """every member was paid"""
        with app.extensions["db"]() as s:
            return s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.ledger == "points")) == 3
    eventually(paid)
    time.sleep(1.5)                           # a second retry, if rq made one, would have run by now
    with app.extensions["db"]() as s:
        for member_id in ids:
            assert s.get(Member, member_id).points == 200
            assert s.scalar(select(func.sum(LedgerEntry.delta)).where(
                LedgerEntry.member_id == member_id, LedgerEntry.ledger == "points")) == 200
