"""Benchmark the tag-rules job on PostgreSQL: `python -m bench.tags`.

    python -m bench.tags                                   # 100,000 fans, 1,000,000 event rows
    python -m bench.tags --fans 10000 --events 100000      # a smaller run

Set-up (timed apart): drop and recreate schema public, migrate, one account, the fans, the event
rows over the last 30 days (menu clicks on three keys, locations, texts with 抽奖 among them),
and seed 004's rules (bot/tag_rules/rules.example.yaml). Then:
1. the full run: every rule over every fan (workers.tag_rules.evaluate_due, as a new rule runs);
2. the incremental run an hour later, after --fresh new event rows from as many fans;
3. the same again with nothing new (the steady state of the hourly job).
The mirror to WeChat is queued (rq, in --redis-url's database), not run: it is per fan and
bounded by WeChat's API, not by this job.
"""
import argparse
import os
import random
import sys
import time
from datetime import timedelta

from sqlalchemy import func, insert, select

from bench.points_data import fresh_schema, make_app
from bench.servers import ACCOUNT, BenchError
from bot.clock import FrozenClock
from bot.jobs import committed
from bot.tag_rules.file import EXAMPLE_PATH, parse
from bot.tag_rules.store import store
from models import Account, Event, Fan, FanTag

DATABASE_URL = os.environ.get("BENCH_TAGS_DATABASE_URL") or "postgresql://postgres@127.0.0.1/bench_tags"
REDIS_URL = os.environ.get("BENCH_TAGS_REDIS_URL") or "redis://127.0.0.1:6379/8"
CHUNK = 20_000


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.tags", description=__doc__.split("\n")[0])
    p.add_argument("--fans", type=int, default=100_000)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--fresh", type=int, default=1_000, help="new event rows before the incremental run")
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--database-url", default=DATABASE_URL, help="PostgreSQL; its schema public is dropped")
    p.add_argument("--redis-url", default=REDIS_URL, help="Redis (the mirror jobs are queued there)")
    return p.parse_args(argv)


def _event(rng, account_id, fans, now):
    kind = rng.random()
    row = dict(account_id=account_id, openid=f"bench-{rng.randrange(fans)}", outcome="ok", data={}, key=None,
               sent_at=now - timedelta(seconds=rng.uniform(0, 30 * 86400)), recorded_at=now)
    if kind < 0.3:
        row.update(type="click", key=rng.choice(("LOTTERY", "MY_POINTS", "SIGN_IN")))
    elif kind < 0.4:
        row.update(type="location")
    else:
        row.update(type="text", data={"Content": rng.choice(("抽奖", "你好", "积分"))})
    return row


def populate(app, args, rng, now) -> float:
    t0 = time.perf_counter()
    with committed(app) as (db, _):
        account = Account(**ACCOUNT)
        db.add(account)
        db.flush()
        account_id = account.id
    db = app.extensions["db"]()
    with db.begin():
        for start in range(0, args.fans, CHUNK):
            db.execute(insert(Fan), [dict(account_id=account_id, openid=f"bench-{n}", following=True, follow_count=1,
                                          role_tag="粉丝", created_at=now)
                                     for n in range(start, min(args.fans, start + CHUNK))])
    for start in range(0, args.events, CHUNK):
        with db.begin():
            db.execute(insert(Event), [_event(rng, account_id, args.fans, now)
                                       for _ in range(min(CHUNK, args.events - start))])
    db.close()
    with committed(app) as (db, enqueue):
        store(db, parse(EXAMPLE_PATH.read_text(encoding="utf-8")), enqueue)
    return time.perf_counter() - t0


def timed(app, **kwargs):
    import workers.tag_rules
    with app.app_context():
        t0 = time.perf_counter()
        outcomes = workers.tag_rules.evaluate_due(force=True, **kwargs)
        return time.perf_counter() - t0, outcomes


def summary(outcomes) -> str:
    return ", ".join(f"{n} +{len(o.added)} -{len(o.removed)} looked at "
                     f"{'all' if o.looked_at is None else o.looked_at}" for n, o in outcomes.items())


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    try:
        schema = fresh_schema(args.database_url)
    except BenchError as exc:
        print(f"bench.tags: {exc}", file=sys.stderr)
        return 2
    app = make_app(args)
    clock = FrozenClock()
    app.extensions["clock"] = clock
    app.extensions["redis"].flushdb()
    rng = random.Random(args.seed)
    seeded = populate(app, args, rng, clock.now())
    print(f"set-up: schema {schema:.1f} s, {args.fans:,} fans and {args.events:,} event rows {seeded:.1f} s")
    full, outcomes = timed(app)
    print(f"full run:        {full:7.2f} s  {args.events / full:10,.0f} rows/s  ({summary(outcomes)})")
    clock.advance(hours=1)
    with committed(app) as (db, _):
        account_id = db.scalar(select(Account.id))
        db.execute(insert(Event), [_event(rng, account_id, args.fans, clock.now()) | {"sent_at": clock.now()}
                                   for _ in range(args.fresh)])
    incremental, outcomes = timed(app)
    print(f"incremental run: {incremental:7.2f} s  after {args.fresh:,} new rows  ({summary(outcomes)})")
    clock.advance(hours=1)
    steady, outcomes = timed(app)
    print(f"nothing new:     {steady:7.2f} s  ({summary(outcomes)})")
    with app.extensions["db"]() as db:
        tagged = dict(db.execute(select(FanTag.name, func.count()).group_by(FanTag.name)).all())
    print("fans tagged: " + ", ".join(f"{k} {v:,}" for k, v in sorted(tagged.items())))
    print(f"mirror jobs queued: {app.extensions['jobs'].queue('low').count:,}")
    app.extensions["redis"].flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
