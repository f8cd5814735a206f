"""What the killed-worker tests share: the app they push to, real `rq worker`s (every queue,
the scheduler for retries) on the test's database and Redis, and a way to find a work horse and
wait for what the retried job leaves behind.

The fixtures are imported by the test modules that use them (pytest finds them there)."""
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pytest
from outbound_support import relay_router
from redis import Redis
from sqlalchemy import select

from bot import create_app
from bot.clock import FrozenClock
from bot.dispatch import Dispatcher
from bot.routes import ROUTERS
from models import OutboundMessage
from tests.conftest import empty_tables

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clock():
    """The worker reads the real clock: the pushes happen at real time too (windows line up)."""
    return FrozenClock(datetime.now(timezone.utc))


@pytest.fixture
def app(database_url, redis_process, clock):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "REDIS": Redis.from_url(redis_process.url),
                      "CLOCK": clock, "SANDBOX": True, "JOBS_INLINE": False, "STRICT_STATES": True,
                      # The pushes here are answered in the request however loaded the machine is:
                      # a push handed to a worker would be one more job beside the one killed.
                      "DEFER_AFTER_S": 30.0, "DELIVERY_CLAIM_LEASE_S": 1})
    app.extensions["dispatcher"] = Dispatcher([relay_router(), *ROUTERS], strict=True)
    yield app
    empty_tables(app.extensions["engine"])


PRODUCTION = "workers.runtime.AppWorker"          # `high` jobs in its own process, a horse for the rest
FORKING = "tests.forking_worker.ForkingAppWorker"  # a horse for every job, `high` too


def start_worker(database_url: str, redis_url: str, worker_class: str = PRODUCTION,
                 scheduler: bool = True) -> subprocess.Popen:
    """`rq worker -w worker_class` as production runs it (the app built once, the scheduler for
    retries) on the test's database and Redis; a claim is stale after one second."""
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SANDBOX": "1",
           "JOBS_INLINE": "0", "DELIVERY_CLAIM_LEASE_S": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "-w", worker_class, "--with-scheduler",
         "--url", redis_url, "high", "default", "low"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Its first child is the scheduler; a child forked after it is a work horse. A worker started
    # after one was killed gets no scheduler until the dead one's lock expires.
    try:
        process.scheduler = eventually(lambda: psutil.Process(process.pid).children(), timeout=30) if scheduler else []
    except AssertionError:
        process.kill()                       # a worker that never came up is not left behind
        raise
    return process


def stop_worker(process: subprocess.Popen) -> None:
    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = list(process.scheduler)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    for member in family:
        if member.is_running():
            member.kill()


@pytest.fixture
def workers(database_url, redis_process):
    """workers.start(worker_class, scheduler) starts one; every one is stopped at the end."""
    started = []

    class Workers:
        def start(self, worker_class: str = PRODUCTION, scheduler: bool = True) -> subprocess.Popen:
            started.append(start_worker(database_url, redis_process.url, worker_class, scheduler))
            return started[-1]
    yield Workers()
    for process in started:
        stop_worker(process)


@pytest.fixture
def worker(workers):
    """Production's worker."""
    return workers.start()


@pytest.fixture
def forking_worker(workers):
    """A worker with a horse for every job (tests/forking_worker.py): a `high` job to kill
    apart from its worker."""
    return workers.start(FORKING)


def eventually(check, timeout: float = 40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {check.__doc__}")


def horses(worker) -> list[psutil.Process]:
    """The worker's work horses running now (its children but the scheduler)."""
    return [p for p in psutil.Process(worker.pid).children() if p not in worker.scheduler]


def statuses(app, openid: str) -> list[str]:
    with app.extensions["db"]() as s:
        query = select(OutboundMessage.status).where(OutboundMessage.openid == openid)
        return list(s.scalars(query.order_by(OutboundMessage.id)))
