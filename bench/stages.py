"""Benchmark the nightly lifecycle-stage job on PostgreSQL, in one run: `python -m bench.stages`.

    python -m bench.stages                          # 20,000 members, a year of orders and pushes
    python -m bench.stages --members 10000 --database-url postgresql://me@db/scratch

Set-up (timed apart): drop and recreate schema public, migrate, load bot/points/rules.example.yaml
(seed 003's five stages), insert the members, about three orders each over the last 420 days
(some refunded) and a following fan with about three pushes each. Then, in this order:
1. the first night: workers.points.compute_stages() puts every member with an order in a stage;
2. the second night: the same job again, nothing changes (idempotent: reads, no writes);
3. the baseline, in the same run: workers.points.recalculate_levels(), the nightly job that
   already walks every member (one transaction per member).
Prints seconds, members per second, and the ratios to the baseline.
"""
import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from bench.points_data import fresh_schema, make_app
from bench.servers import ACCOUNT, BenchError
from bot import points
from bot.points.policy import load
from bot.points.rules_file import EXAMPLE_RULES, parse
from models import Account, Event, Fan, Member, MemberStage, Purchase

DATABASE_URL = os.environ.get("BENCH_STAGES_DATABASE_URL") or "postgresql://postgres@127.0.0.1/bench_stages"
REDIS_URL = os.environ.get("BENCH_STAGES_REDIS_URL") or "redis://127.0.0.1:6379/10"
CHUNK = 5_000


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=20_000, help="members (20000)")
    p.add_argument("--seed", type=int, default=3, help="random seed (3)")
    p.add_argument("--database-url", default=DATABASE_URL, help="PostgreSQL; its schema public is dropped")
    p.add_argument("--redis-url", default=REDIS_URL, help="Redis (the app needs one; nothing is queued)")
    return p.parse_args(argv)


def populate(app, members: int, rng: random.Random) -> float:
    t0 = time.perf_counter()
    now = datetime.now(timezone.utc)
    with points.transaction(app) as book:
        load(book.db, parse(EXAMPLE_RULES.read_text(encoding="utf-8")))
        account = Account(**ACCOUNT)
        book.db.add(account)
        book.db.flush()
        account_id = account.id
    db = app.extensions["db"]()
    for start in range(0, members, CHUNK):
        ids = range(start + 1, min(members, start + CHUNK) + 1)
        with db.begin():
            db.execute(insert(Member), [dict(id=n, phone=f"1{n:010d}", points=0, growth=0, level="registered",
                                             imported=False, created_at=now - timedelta(days=rng.uniform(0, 730)))
                                        for n in ids])
            orders, fans, pushes = [], [], []
            for n in ids:
                for k in range(rng.choice((0, 1, 1, 2, 3, 5, 9))):
                    amount = rng.randint(1, 500) * 100
                    orders.append(dict(order_id=f"B{n}-{k}", member_id=n, amount_fen=amount,
                                       refunded_fen=rng.choice((0, 0, 0, amount)), payment_method="wechat",
                                       paid_at=now - timedelta(days=rng.uniform(0, 420)), source="bench",
                                       created_at=now))
                fans.append(dict(account_id=account_id, openid=f"bench-{n}", member_id=n, following=True,
                                 follow_count=1, role_tag="会员", created_at=now))
                pushes += [dict(account_id=account_id, openid=f"bench-{n}", type="text", data={}, outcome="ok",
                                sent_at=now - timedelta(days=rng.uniform(0, 420)), recorded_at=now)
                           for _ in range(rng.choice((0, 1, 3, 5)))]
            for model, rows in ((Purchase, orders), (Fan, fans), (Event, pushes)):
                if rows:
                    db.execute(insert(model), rows)
    db.close()
    return time.perf_counter() - t0


def timed(app, job) -> tuple[float, int]:
    with app.app_context():
        t0 = time.perf_counter()
        result = job()
        return time.perf_counter() - t0, result


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    try:
        schema = fresh_schema(args.database_url)
    except BenchError as exc:
        print(f"bench.stages: {exc}", file=sys.stderr)
        return 2
    app = make_app(args)
    rng = random.Random(args.seed)
    seeded = populate(app, args.members, rng)
    import workers.points
    first, entered = timed(app, workers.points.compute_stages)
    second, changed = timed(app, workers.points.compute_stages)
    baseline, levelled = timed(app, workers.points.recalculate_levels)
    with app.extensions["db"]() as db:
        counts = dict(db.execute(select(MemberStage.stage, func.count()).where(MemberStage.left_at.is_(None))
                                 .group_by(MemberStage.stage)).all())
    n = args.members
    print(f"set-up: schema {schema:.1f} s, {n:,} members with orders, fans and pushes {seeded:.1f} s")
    print(f"stages now: {', '.join(f'{k} {v:,}' for k, v in sorted(counts.items()))}")
    print(f"first night  (compute_stages, {entered:,} members enter a stage): {first:7.2f} s  "
          f"{n / first:9,.0f} members/s  ratio to baseline {first / baseline:.2f}")
    print(f"second night (compute_stages, {changed:,} changes):               {second:7.2f} s  "
          f"{n / second:9,.0f} members/s  ratio to baseline {second / baseline:.2f}")
    print(f"baseline     (recalculate_levels, {levelled:,} members):           {baseline:7.2f} s  "
          f"{n / baseline:9,.0f} members/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
