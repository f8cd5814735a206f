"""Unionids learnt in batches (WECHAT-PLATFORM.md §5.2, §4.3 user/info/batchget ≤ 100): a burst of
follows is one coalesced run per account and one WeChat call per 100 fans, not a job and a call
per follow (the soak's queue grew by 500 jobs a minute that way)."""
from outbound_support import run_due_retries
from sqlalchemy import func, select

from bot.jobs import JobSpec
from models import Fan, FanLink
from tests.binding_support import fan_of, load_rules, member_by_phone
from tests.linking_support import erin_on_both

PHONE = "13812345678"


def unchecked(db) -> int:
    db.rollback()
    return db.scalar(select(func.count()).select_from(Fan).where(Fan.unionid_checked_at.is_(None)))


def test_a_burst_of_follows_is_one_run_and_one_call_per_hundred_fans(app, db, jobs, phone, world, account):
    fans = [phone(f"fan{n}", account=account) for n in range(150)]
    world.set_unionid(account.appid, fans[7].openid, "union-7")
    for fan in fans:
        assert fan.follow()
    assert jobs.queued().count("workers.linking.learn_unionids") == 1     # the other 149 found it queued
    jobs.run_all()
    assert jobs.failed() == 0
    sizes = [len(call["body"]["user_list"]) for call in world.calls("/cgi-bin/user/info/batchget")]
    assert sizes == [100, 50]
    assert world.calls("/cgi-bin/user/info") == []
    assert unchecked(db) == 0
    assert fan_of(db, fans[7]).unionid == "union-7"
    assert fan_of(db, fans[8]).unionid is None


def test_a_follow_after_the_run_started_gets_a_run_of_its_own(app, db, jobs, phone, world, account):
    """The run drops its flag before reading: a fan committed after its query is asked by the next run."""
    first, late = phone("first", account=account), phone("late", account=account)
    first.follow()
    jobs.run_all()
    late.follow()
    assert jobs.queued().count("workers.linking.learn_unionids") == 1
    jobs.run_all()
    assert unchecked(db) == 0
    assert len(world.calls("/cgi-bin/user/info/batchget")) == 2


def test_an_openid_wechat_refuses_costs_its_batch_one_call_each_and_nothing_else(app, db, jobs, phone, world,
                                                                                   account):
    """One unknown openid fails the whole batchget (40003): the batch is asked one by one, the
    refused fan is marked asked with no unionid, the others are learnt."""
    ann, bob = phone("ann", account=account), phone("bob", account=account)
    world.set_unionid(account.appid, bob.openid, "union-bob")
    ann.follow()
    db.add(Fan(account_id=account.id, openid="o-gone-from-wechat-000000000"))
    db.commit()
    bob.follow()
    jobs.run_all()
    assert jobs.failed() == 0
    assert len(world.calls("/cgi-bin/user/info/batchget")) == 1
    assert len(world.calls("/cgi-bin/user/info")) == 3
    assert unchecked(db) == 0
    assert fan_of(db, bob).unionid == "union-bob"


def test_wechat_down_leaves_the_fans_to_ask_and_the_retry_learns_them(app, db, jobs, phone, world, account,
                                                                       make_account):
    """-1 (system busy) is retried by rq (5, 15, 60 s); nothing is marked asked until WeChat answered,
    and the retry links the person's two fans."""
    load_rules(app)
    erin_hq = erin_on_both(app, jobs, phone, world, account, make_account, PHONE)
    world.fail_next("/cgi-bin/user/info/batchget", errcode=-1)
    erin_hq.follow()
    jobs.run_all()
    assert fan_of(db, erin_hq).unionid_checked_at is None and fan_of(db, erin_hq).member_id is None
    assert run_due_retries(jobs) == 1
    jobs.run_all()
    assert jobs.failed() == 0
    assert fan_of(db, erin_hq).unionid_checked_at is not None
    assert fan_of(db, erin_hq).member_id == member_by_phone(db, PHONE).id
    db.rollback()
    assert db.scalar(select(func.count()).select_from(FanLink)) == 1


def test_a_lone_fan_wechat_refuses_is_marked_asked_not_asked_by_every_run(app, db, jobs, phone, world, account):
    """A batch of one that WeChat refuses (40003) is asked by user/info as well, refused again, and
    marked asked with no unionid: the next run does not start with it again."""
    phone("ann", account=account).follow()
    jobs.run_all()
    db.add(Fan(account_id=account.id, openid="o-gone-from-wechat-000000000"))
    db.commit()
    app.extensions["jobs"].submit(JobSpec("workers.linking.learn_unionids", (account.id,),
                                          job_id=f"learn-unionids-{account.id}", coalesce=True))
    jobs.run_all()
    assert jobs.failed() == 0
    assert unchecked(db) == 0
    assert len(world.calls("/cgi-bin/user/info/batchget")) == 2 and len(world.calls("/cgi-bin/user/info")) == 1
