"""The scheduled points jobs (issue #3 §6, workers/points.py), run inline in the test app:
birthdays once a year on the China date, expiry (N months / end of year) with FIFO spends,
reminders before points expire, level recalculation with a downgrade window, and the rq cron
schedule that runs them."""
import itertools
import sys
from datetime import datetime, timedelta, timezone

from rq.cron import CronScheduler
from rq.job import Job
from rq.utils import import_attribute
from sqlalchemy import func, select

import workers.cs
import workers.points
from bot import points
from bot.clock import CST, add_months
from bot.points.engine import adjust, fire, spend
from bot.points.policy import load
from bot.points.purchases import record_purchase, refund_purchase
from bot.points.rules_file import parse
from bot.sandbox.phone import sandbox_openid
from models import Award, Fan, LedgerEntry, LevelChange, Member, OutboundMessage, PointsLot
from workers.points import award_birthdays, expire_points, recalculate_levels, remind_expiring

SECOND = timedelta(seconds=1)
PHONES = (f"1390000{n:04d}" for n in itertools.count(1))


def rules(expiry: str = "{policy: none}", window: int | None = None) -> str:
    return f"""
levels:
  tiers:
    - {{code: registered, name: 注册会员, growth: 0}}
    - {{code: bronze, name: 铜牌会员, growth: 100}}
  downgrade_window_months: {window or "null"}
expiry: {expiry}
rules:
  - {{id: birthday, trigger: birthday, title: 生日礼, points: 200, growth: 20,
      frequency: {{count: 1, per: year}}}}
  - {{id: survey, trigger: survey_complete, title: 完成问卷, growth: 150}}
  - {{id: purchase, trigger: purchase, title: 消费, points: {{per: 10, award: 1}},
      growth: {{per: 1, award: 1}}}}
"""


def load_rules(app, text: str) -> None:
    with points.transaction(app) as book:
        load(book.db, parse(text))


def cst(*parts) -> datetime:
    return datetime(*parts, tzinfo=CST)


def at(clock, when: datetime) -> None:
    clock.advance(seconds=(when - clock.now()).total_seconds())


def run(app, job):
    with app.app_context():
        return job()


def member(db, account, name: str, **fields) -> Member:
    """A member whose fan follows `account` (so what they are told is stored for that fan)."""
    row = Member(phone=next(PHONES), level="registered", **fields)
    db.add(row)
    db.flush()
    db.add(Fan(account_id=account.id, openid=sandbox_openid(account.slug, name), following=True,
               followed_at=datetime(2026, 1, 1, tzinfo=timezone.utc), member_id=row.id))
    db.commit()
    return row


def fresh(db, row: Member) -> Member:
    db.rollback()
    db.expire_all()
    return db.get(Member, row.id)


def told(db, row: Member) -> list[str]:
    """Every text stored for the member's fan, oldest first."""
    db.rollback()
    openids = select(Fan.openid).where(Fan.member_id == row.id)
    return list(db.scalars(select(OutboundMessage.content).where(OutboundMessage.openid.in_(openids))
                           .order_by(OutboundMessage.id)))


def balances(db, row: Member) -> tuple[int, int]:
    """(points, growth), after checking both equal their ledger and the points equal the lots."""
    row = fresh(db, row)

    def total(ledger):
        return db.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
            LedgerEntry.member_id == row.id, LedgerEntry.ledger == ledger))
    lots = db.scalar(select(func.coalesce(func.sum(PointsLot.remaining), 0))
                     .where(PointsLot.member_id == row.id))
    assert row.points == total("points") == lots and row.points >= 0
    assert row.growth == total("growth") >= 0
    return row.points, row.growth


def give(app, row: Member, amount: int, key: str) -> None:
    with points.transaction(app) as book:
        adjust(book, row.id, amount, "奖励", "test", key)


def survey(app, row: Member, key: str) -> None:
    with points.transaction(app) as book:
        fire(book, row.id, "survey_complete", "survey", key)


# --- birthdays ------------------------------------------------------------------------------

def test_birthdays_are_paid_on_the_china_date_once_a_year(app, db, account, clock):
    """§6: the birthday is the China date (17:00 UTC on 11-23 is 11-24 in China); a second run,
    later the same day or through `points run-daily`, pays nothing; the next year pays again."""
    load_rules(app, rules())
    ann, ben = member(db, account, "ann", birthday=datetime(1990, 11, 24).date()), \
        member(db, account, "ben", birthday=datetime(1985, 11, 23).date())
    run(app, award_birthdays)                                  # 2026-11-23 18:00 CST
    assert (balances(db, ann), balances(db, ben)) == ((0, 0), (200, 20))
    at(clock, datetime(2026, 11, 23, 17, tzinfo=timezone.utc))  # 2026-11-24 01:00 CST
    run(app, award_birthdays)
    run(app, award_birthdays)
    at(clock, cst(2026, 11, 24, 22))
    assert "birthdays: 1 members" in app.test_cli_runner().invoke(args=["points", "run-daily"]).output
    assert (balances(db, ann), balances(db, ben)) == ((200, 20), (200, 20))
    assert told(db, ann) == ["生日礼：积分 +200，成长值 +20。当前积分 200。"]
    at(clock, cst(2027, 11, 24, 9))
    run(app, award_birthdays)
    assert balances(db, ann) == (400, 40)
    assert db.scalar(select(func.count()).select_from(Award).where(Award.member_id == ann.id)) == 2


def test_29_february_birthdays_are_paid_on_28_february_in_other_years(app, db, account, clock):
    """§6: born on 29 February: paid on 28 February in 2027, on 29 February in 2028 (a leap
    year; not on the 28th as well), once each year."""
    load_rules(app, rules())
    leap = member(db, account, "leap", birthday=datetime(2000, 2, 29).date())
    eve = member(db, account, "eve", birthday=datetime(2000, 2, 28).date())
    for day in (cst(2027, 2, 27, 9), cst(2027, 2, 28, 9), cst(2027, 2, 28, 20), cst(2027, 3, 1, 9)):
        at(clock, day)
        run(app, award_birthdays)
    assert (balances(db, leap)[0], balances(db, eve)[0]) == (200, 200)
    at(clock, cst(2028, 2, 28, 9))
    run(app, award_birthdays)
    assert (balances(db, leap)[0], balances(db, eve)[0]) == (200, 400)
    for day in (cst(2028, 2, 29, 9), cst(2028, 2, 29, 21), cst(2028, 3, 1, 9)):
        at(clock, day)
        run(app, award_birthdays)
    assert (balances(db, leap)[0], balances(db, eve)[0]) == (400, 400)
    assert sorted(db.scalars(select(Award.source_id).where(Award.member_id == leap.id))) == ["2027", "2028"]


# --- expiry ---------------------------------------------------------------------------------

def expires_exactly_at(app, db, clock, row: Member, instant: datetime, amount: int) -> None:
    """Nothing of `amount` expires a second before `instant`; all of it at `instant`."""
    before = balances(db, row)[0]
    at(clock, instant - SECOND)
    run(app, expire_points)
    assert balances(db, row)[0] == before
    at(clock, instant)
    run(app, expire_points)
    assert balances(db, row)[0] == before - amount


def test_months_policy_expires_points_n_months_after_earning_and_tells_the_member(app, db, account,
                                                                                clock):
    """§6 "N months after earning": at the instant, to the second; a second run changes nothing."""
    load_rules(app, rules("{policy: months, months: 3}"))
    ann = member(db, account, "ann")
    give(app, ann, 100, "a")                                   # 2026-11-23 18:00 CST
    expires_exactly_at(app, db, clock, ann, cst(2027, 2, 23, 18), 100)
    assert run(app, expire_points) == 0
    assert told(db, ann) == ["奖励：积分 +100。当前积分 100。", "100 积分已到期。当前积分 0。"]
    db.rollback()
    assert list(db.scalars(select(LedgerEntry.reason).where(LedgerEntry.kind == "expire"))) == \
        ["2026-11-23 获得的积分到期"]


def test_spends_use_the_soonest_expiring_points_first(app, db, account, clock):
    """§6: FIFO: a spend of 120 takes all of the first 100 and 20 of the next 50, so nothing is
    left to expire with the first lot and 30 expire with the second."""
    load_rules(app, rules("{policy: months, months: 3}"))
    ann = member(db, account, "ann")
    give(app, ann, 100, "first")                               # expires 2027-02-23 18:00 CST
    at(clock, cst(2026, 12, 23, 18))
    give(app, ann, 50, "second")                               # expires 2027-03-23 18:00 CST
    at(clock, cst(2027, 1, 10))
    with points.transaction(app) as book:
        spend(book, ann.id, 120, "mall", "order-1", "积分商城兑换")
    assert balances(db, ann) == (30, 0)
    expires_exactly_at(app, db, clock, ann, cst(2027, 2, 23, 18), 0)
    expires_exactly_at(app, db, clock, ann, cst(2027, 3, 23, 18), 30)
    assert told(db, ann)[-1] == "30 积分已到期。当前积分 0。"


def test_end_of_year_with_years_0_expires_at_the_china_new_year(app, db, account, clock):
    """§6 end_of_year, years 0: points expire when the China year they were earned in ends;
    points earned 2027-01-01 01:00 CST (still 2026 in UTC) are 2027 points."""
    load_rules(app, rules("{policy: end_of_year, years: 0}"))
    ann = member(db, account, "ann")
    give(app, ann, 100, "2026")
    expires_exactly_at(app, db, clock, ann, cst(2027, 1, 1), 100)
    at(clock, cst(2027, 1, 1, 1))
    give(app, ann, 50, "2027")
    expires_exactly_at(app, db, clock, ann, cst(2028, 1, 1), 50)
    assert run(app, expire_points) == 0
    assert balances(db, ann) == (0, 0)


def test_end_of_year_with_years_1_expires_at_the_end_of_the_next_year(app, db, account, clock):
    """§6 end_of_year, years 1: 2026 points expire at the end of 2027 (China time), 2027
    points at the end of 2028."""
    load_rules(app, rules("{policy: end_of_year, years: 1}"))
    ann = member(db, account, "ann")
    give(app, ann, 100, "2026")
    at(clock, cst(2027, 1, 1, 1))
    give(app, ann, 50, "2027")
    expires_exactly_at(app, db, clock, ann, cst(2028, 1, 1), 100)
    expires_exactly_at(app, db, clock, ann, cst(2029, 1, 1), 50)
    assert told(db, ann)[-2:] == ["100 积分已到期。当前积分 50。", "50 积分已到期。当前积分 0。"]


# --- reminders ------------------------------------------------------------------------------

def test_members_are_reminded_once_of_points_expiring_within_remind_days(app, db, account, clock):
    """§6 "a reminder 7 days before points expire": once per lot, of what is left of it; a lot
    earned later gets its own reminder when its time comes."""
    load_rules(app, rules("{policy: months, months: 1, remind_days: 7}"))
    ann = member(db, account, "ann")
    give(app, ann, 100, "first")                               # expires 2026-12-23 18:00 CST
    with points.transaction(app) as book:
        spend(book, ann.id, 30, "mall", "order-1", "积分商城兑换")
    at(clock, cst(2026, 12, 16, 18) - SECOND)
    assert run(app, remind_expiring) == 0
    at(clock, cst(2026, 12, 16, 18))
    run(app, remind_expiring)
    at(clock, cst(2026, 12, 20, 18))
    run(app, remind_expiring)
    give(app, ann, 50, "second")                               # expires 2027-01-20 18:00 CST
    run(app, remind_expiring)
    at(clock, cst(2027, 1, 13, 18))
    run(app, remind_expiring)
    run(app, remind_expiring)
    assert told(db, ann) == ["奖励：积分 +100。当前积分 100。",
                             "您有 70 积分有效期至 2026-12-23，请尽快使用。",
                             "奖励：积分 +50。当前积分 120。",
                             "您有 50 积分有效期至 2027-01-20，请尽快使用。"]


# --- levels ---------------------------------------------------------------------------------

def test_growth_older_than_the_downgrade_window_stops_counting(app, db, account, clock):
    """§4 optional periodic downgrade: with a 12-month window, growth earned 12 months ago still
    counts at the instant and not a second later; the member moves down (cause recalculation)
    and is told; a member with recent growth stays; a second run changes nothing."""
    load_rules(app, rules(window=12))
    ann, ben = member(db, account, "ann"), member(db, account, "ben")
    earned = clock.now()
    survey(app, ann, "s1")
    at(clock, add_months(earned, 6))
    survey(app, ben, "s1")
    at(clock, add_months(earned, 12))
    run(app, recalculate_levels)
    assert (fresh(db, ann).level, fresh(db, ben).level) == ("bronze", "bronze")
    at(clock, add_months(earned, 12) + SECOND)
    run(app, recalculate_levels)
    run(app, recalculate_levels)
    assert (fresh(db, ann).level, fresh(db, ben).level) == ("registered", "bronze")
    assert balances(db, ann) == (0, 150)                       # the growth ledger is untouched
    db.rollback()
    changes = [(c.from_level, c.to_level, c.cause) for c in db.scalars(
        select(LevelChange).where(LevelChange.member_id == ann.id).order_by(LevelChange.id))]
    assert changes == [("registered", "bronze", "growth"), ("bronze", "registered", "recalculation")]
    assert told(db, ann) == ["完成问卷：成长值 +150。当前积分 0。\n恭喜！您已升级为「铜牌会员」。",
                             "您的会员等级已调整为「注册会员」。"]


def test_without_a_downgrade_window_recalculation_changes_nothing(app, db, account, clock):
    """§4: without downgrade_window_months a level falls only when growth is reversed."""
    load_rules(app, rules())
    ann = member(db, account, "ann")
    survey(app, ann, "s1")
    at(clock, cst(2029, 1, 1))
    run(app, recalculate_levels)
    assert fresh(db, ann).level == "bronze"
    db.rollback()
    assert db.scalar(select(func.count()).select_from(LevelChange)) == 1
    assert len(told(db, ann)) == 1


def test_a_refund_of_growth_earned_before_the_window_takes_nothing_from_growth_inside_it(
        app, db, account, clock):
    """§4/§5: with a 12-month window, an order paid 13 months ago (its growth no longer counts)
    is refunded: the refund goes through, and the member keeps the level this year's order gives."""
    load_rules(app, rules(window=12))
    ann = member(db, account, "ann")

    def order(order_id: str, yuan: int) -> None:
        with points.transaction(app) as book:
            record_purchase(book, order_id=order_id, member_id=ann.id, amount_fen=yuan * 100,
                            paid_at=clock.now(), payment_method="wechat", source="api")
    order("A-1", 150)                                          # 2026-11-23: 15 points, 150 growth
    at(clock, cst(2027, 12, 1))
    order("A-2", 120)                                          # 12 points, 120 growth
    at(clock, cst(2027, 12, 24))
    with points.transaction(app) as book:
        refund_purchase(book, order_id="A-1", refund_id="R-1", amount_fen=None)
    assert run(app, recalculate_levels) == 1
    assert (fresh(db, ann).level, balances(db, ann)) == ("bronze", (12, 120))


# --- the schedule ---------------------------------------------------------------------------

def test_the_cron_schedule_runs_the_points_jobs_and_the_cs_sweep(app, db, account, redis, jobs, clock):
    """§6 on rq's scheduler: workers/schedule.py registers the six jobs of workers/points.py and
    the customer-service sweep and the deferred pushes' sweep (every minute on `high`) and the
    delivery sweep (every five minutes); each name resolves to that function.
    rq's cron has no retry, so each points job is fired through run_retried, which queues it with
    rq's Retry; run as a worker would, the birthday one pays."""
    scheduler = CronScheduler(connection=redis)
    scheduler.load_config_from_file("workers.schedule")
    cron_jobs = scheduler.get_jobs()
    registered = {(job.args[0] if job.func_name == "workers.schedule.run_retried" else job.func_name):
                  (job.queue_name, job.cron, job.interval) for job in cron_jobs}
    assert registered == {
        "workers.points.award_birthdays": ("low", "0 9 * * *", None),
        "workers.points.expire_points": ("low", None, 3600),
        "workers.points.mature_pending": ("low", None, 3600),
        "workers.points.compute_stages": ("low", "15 3 * * *", None),
        "workers.points.remind_expiring": ("low", "0 10 * * *", None),
        "workers.points.recalculate_levels": ("low", "30 3 * * *", None),
        "workers.cs.sweep": ("high", None, 60),
        "workers.messaging.sweep_pending": ("default", None, 300),
        "workers.tag_rules.evaluate_due": ("low", None, 3600),
        "workers.pushes.sweep_deferred": ("high", None, 60),
    }
    for name in registered:
        module = sys.modules[name.rsplit(".", 1)[0]]
        assert import_attribute(name) is getattr(module, name.rsplit(".", 1)[1])

    load_rules(app, rules())
    ann = member(db, account, "ann", birthday=datetime(1990, 11, 23).date())
    with app.app_context():
        for job in cron_jobs:
            job.enqueue(redis)
        jobs.run_all()
    assert jobs.failed() == 0
    low = app.extensions["jobs"].queue("low")
    finished = [Job.fetch(i, connection=redis) for i in low.finished_job_registry.get_job_ids()]
    retried = [job for job in finished if job.func_name.startswith("workers.points.")]
    assert sorted(job.func_name for job in retried) == sorted(n for n in registered if "points" in n)
    assert all(job.retries_left == 3 for job in retried)
    assert balances(db, ann) == (200, 20)
