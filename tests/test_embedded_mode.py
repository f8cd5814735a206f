"""JOBS_INLINE=1: jobs run on one background thread of the web process, after
commit, never inside the webhook request, with the retries rq would give them."""
import threading

import pytest

from bot import create_app
from bot.dispatch import Dispatcher, Router
from bot.jobs import JobSpec
from bot.routes import ROUTERS
from bot.sandbox.phone import Phone, sandbox_openid
from bot.sandbox.state import SandboxWeChat
from models import Account
from tests.conftest import SAMPLE, empty_tables
from tests_support_embedded import RUNS, fail_twice, record_thread


@pytest.fixture
def embedded(database_url, redis, clock):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "REDIS": redis, "CLOCK": clock,
                      "SANDBOX": True, "JOBS_INLINE": True})
    RUNS.clear()
    yield app
    app.extensions["jobs"].drain()
    empty_tables(app.extensions["engine"])


def test_jobs_run_on_a_background_thread_in_order(embedded):
    jobs = embedded.extensions["jobs"]
    for n in range(5):
        jobs.submit(JobSpec("tests_support_embedded.record_thread", (n,)))
    assert jobs.drain(5)
    assert [n for n, _ in RUNS] == [0, 1, 2, 3, 4]
    assert {name for _, name in RUNS} == {"inline-jobs"}
    assert threading.current_thread().name not in {name for _, name in RUNS}


def test_a_failing_job_is_retried_with_its_intervals(embedded):
    """As rq's Retry would: attempts = 1 + len(retry); drain waits for the pending retries."""
    jobs = embedded.extensions["jobs"]
    jobs.submit(JobSpec("tests_support_embedded.fail_twice", ("a",), retry=(0.05, 0.05)))
    assert jobs.drain(5)
    assert RUNS == [("a", 1), ("a", 2), ("a", 3)]


def test_a_job_out_of_retries_is_logged_not_raised(embedded, caplog):
    jobs = embedded.extensions["jobs"]
    jobs.submit(JobSpec("tests_support_embedded.fail_twice", ("b",), retry=(0.01,)))
    assert jobs.drain(5)
    assert RUNS == [("b", 1), ("b", 2)]
    assert "no retries left" in caplog.text


def test_a_message_for_another_fan_is_delivered_after_the_reply(embedded, clock):
    """End to end on the embedded defaults: alice's push answers at once; the customer-service
    message to bob goes out from the background thread through the sandbox."""
    world = SandboxWeChat(embedded.extensions["redis"], clock)
    with embedded.extensions["db"]() as db, db.begin():
        db.add(Account(**SAMPLE))
    world.register_account(SAMPLE["appid"], SAMPLE["secret"], "service", True, SAMPLE["original_id"])
    with embedded.extensions["db"]() as db:
        account = db.query(Account).one()
    bob_openid = sandbox_openid("hq", "bob")
    relay = Router("relay")
    relay.text("叫 bob")(lambda ctx, msg: (ctx.tell(bob_openid, "alice 找你"), "已转告")[1])
    embedded.extensions["dispatcher"] = Dispatcher([relay, *ROUTERS], strict=True)
    client = embedded.test_client()

    def post(path, query, body):
        response = client.post(path, query_string=query, data=body)
        return response.status_code, response.data
    alice = Phone(post, account, sandbox_openid("hq", "alice"), "safe", world, clock)
    bob = Phone(post, account, bob_openid, "plain", world, clock)
    bob.text("在吗")
    assert alice.text("叫 bob") == "已转告"
    assert embedded.extensions["jobs"].drain(5)
    assert [(m["kind"], m["content"]) for m in world.messages_to(SAMPLE["appid"], bob_openid)] == [
        ("custom", "alice 找你")]
