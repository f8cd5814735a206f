"""Benchmark the points engine on PostgreSQL, in one run: `python -m bench.points`.

    python -m bench.points                        # 100,000 members, 2,000 awards, 500 pushes each
    python -m bench.points --awards 500 --requests 200 --profile
    python -m bench.points --database-url postgresql://me@db/scratch --redis-url redis://cache:6379/3

Set-up (timed apart, not part of any figure): drop and recreate schema public of the database,
migrate, load bot/points/rules.example.yaml, COPY the members, one linked fan each, and about five
past points entries and lots each (a year of operation). Then:
1. award throughput from this one process: purchases, sign-ins and surveys to random members,
   each in its own `points.transaction(app)` (real engine: rules, frequency, exclusive group,
   caps, ledger, lots, level, notice); baseline: a bare ledger write (one transaction that
   increments one balance and inserts one ledger row), in alternating blocks in the same run.
2. the "积分" reply of a member with 1,000 ledger rows (written by the engine), through the
   webhook (Flask test client, safe-mode pushes signed and encrypted by the sandbox Phone);
   baseline: the same fan's keyword auto-reply, interleaved. Requirement: p99 < 20 ms. Then
   the first pushes on a new database connection (planned per member: see cold_latency).
Real Redis, JOBS_INLINE off: the notices' jobs are queued, never run during the timing.
Results: a report on stdout and JSON in bench/out/. See bench/README.md.
"""
import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import random
import sys
import time

from redis import Redis
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bench.points_data import (KEYWORD, KEYWORD_REPLY, award_once, bare_write, entry_counts, fresh_schema,
                               give_history, ledger_problems, make_app, member_phone, random_member, seed,
                               wrap)
from bench.points_report import (BLOCK, REQUIREMENT_P99_MS, counting_queries, cpu_probe, percentiles,
                                 print_report, summarize)
from bench.servers import ACCOUNT, OUT, BenchError
from bot.sandbox.phone import Phone
from models import Award, OutboundMessage

DATABASE_URL = os.environ.get("BENCH_POINTS_DATABASE_URL") or "postgresql://postgres@127.0.0.1/bench_points"
REDIS_URL = os.environ.get("BENCH_POINTS_REDIS_URL") or "redis://127.0.0.1:6379/10"
WEBHOOK = f"/wechat/{ACCOUNT['slug']}"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.points", description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=100_000, help="members, each with one linked fan (100000)")
    p.add_argument("--awards", type=int, default=2_000,
                   help="awards through the engine, as many bare ledger writes (2000)")
    p.add_argument("--history", type=int, default=5,
                   help="past points entries (and lots) per member on average, from the last year (5)")
    p.add_argument("--ledger-rows", type=int, default=1_000, help="ledger rows of the 积分 member (1000)")
    p.add_argument("--requests", type=int, default=500, help="pushes of each kind timed (500)")
    p.add_argument("--warmup", type=int, default=50, help="untimed pushes of each kind first (50)")
    p.add_argument("--seed", type=int, default=3, help="random seed (3)")
    p.add_argument("--database-url", default=DATABASE_URL,
                   help=f"PostgreSQL database; its schema public is DROPPED ({DATABASE_URL})")
    p.add_argument("--redis-url", default=REDIS_URL, help=f"Redis db, FLUSHED ({REDIS_URL})")
    p.add_argument("--profile", action="store_true",
                   help="also run both parts once more under cProfile (bench/out/points-profile.txt)")
    return p.parse_args(argv)


def throughput(app, args, skip: int) -> dict:
    """Alternating blocks of engine awards and bare writes to random members (not `skip`)."""
    rng = random.Random(args.seed)
    engine_s = bare_s = 0.0
    done, blocks = 0, []
    before = entry_counts(app)
    while done < args.awards:
        size = min(BLOCK, args.awards - done)
        targets = [random_member(rng, args.members, skip) for _ in range(size)]
        t0 = time.perf_counter()
        for i, member_id in enumerate(targets):
            bare_write(app, member_id, done + i)
        t1 = time.perf_counter()
        for i, member_id in enumerate(targets):
            award_once(app, rng, member_id, done + i)
        t2 = time.perf_counter()
        engine_s += t2 - t1
        bare_s += t1 - t0
        blocks.append(dict(size=size, awards_per_s=size / (t2 - t1), bare_per_s=size / (t1 - t0)))
        done += size
        if sys.stdout.isatty():
            print(f"\r   {done}/{args.awards} awards", end="", flush=True)
    print(f"\r   {done}/{args.awards} awards in {engine_s:.1f}s, bare writes in {bare_s:.1f}s", flush=True)
    after = entry_counts(app)
    entries = {k: after[k] - before[k] for k in after}
    with app.extensions["db"]() as db:
        statuses = dict(db.execute(select(Award.status, func.count()).group_by(Award.status)).all())
        messages = db.scalar(select(func.count()).select_from(OutboundMessage))
    jobs = app.extensions["jobs"].queue("high").count
    engine_entries = entries["points"] + entries["growth"]
    return dict(awards=args.awards, engine_s=engine_s, bare_s=bare_s,
                awards_per_s=args.awards / engine_s, entries_per_s=engine_entries / engine_s,
                bare_per_s=args.awards / bare_s, engine_entries=engine_entries,
                points_entries=entries["points"], growth_entries=entries["growth"],
                bare_entries=entries["bare"], award_statuses=statuses, notices_pending=messages,
                jobs_queued=jobs, blocks=blocks)


def latency(app, args, member_id: int) -> dict:
    """Interleaved 积分 / keyword / 帮助 pushes from the member's fan, each timed around the
    webhook call only (the pushes are signed and encrypted before, replies checked after)."""
    client, phone = app.test_client(), member_phone(member_id)
    kinds = {"积分": None, KEYWORD: KEYWORD_REPLY, "帮助": None}
    samples = {k: [] for k in kinds}
    problems = []
    msg_ids = itertools.count(8_000_000_000_000_000_000)
    for n in range(args.warmup + args.requests):
        for content in kinds:
            query, body = wrap(phone, content, next(msg_ids))
            t0 = time.perf_counter_ns()
            response = client.post(WEBHOOK, query_string=query, data=body)
            elapsed = time.perf_counter_ns() - t0
            problem = check_reply(phone, response, content, kinds[content])
            if problem:
                problems.append(problem)
            if n >= args.warmup:
                samples[content].append(elapsed / 1e6)
    return dict(samples=samples, problems=problems[:10], problem_count=len(problems))


def cold_latency(app, args, member_id: int, pools: int = 10, pushes: int = 10) -> dict:
    """The first `pushes` keyword and 积分 pushes on a new database connection, `pools` times:
    psycopg prepares a statement on its 6th execution and PostgreSQL plans its first 5 executions
    as prepared for the values given (custom plans), so these are planned per member."""
    client, phone = app.test_client(), member_phone(member_id)
    samples = {KEYWORD: [], "积分": []}
    msg_ids = itertools.count(8_300_000_000_000_000_000)
    for _ in range(pools):
        for content in samples:
            app.extensions["engine"].dispose()      # the next push opens a new connection
            for _ in range(pushes):
                query, body = wrap(phone, content, next(msg_ids))
                t0 = time.perf_counter_ns()
                client.post(WEBHOOK, query_string=query, data=body)
                samples[content].append((time.perf_counter_ns() - t0) / 1e6)
    return dict(pools=pools, pushes=pushes, samples=samples,
                stats={k: percentiles(v) for k, v in samples.items()})


def check_reply(phone: Phone, response, content: str, expected: str | None) -> str | None:
    if response.status_code != 200:
        return f"{content}: HTTP {response.status_code}"
    reply = (phone.unwrap(response.data) or {}).get("Content") or ""
    if content == "积分":
        ok = reply.startswith("当前积分：") and "最近明细" in reply
    elif content == "帮助":
        ok = reply.startswith("您可以")
    else:
        ok = reply == expected
    return None if ok else f"{content}: unexpected reply {reply[:80]!r}"


def query_report(app, args, member_id: int) -> dict:
    """An untimed pass with every statement counted: 200 awards, 100 replies of each kind."""
    engine = app.extensions["engine"]
    out = {}
    rng = random.Random(args.seed + 1)
    t0 = time.perf_counter()
    with counting_queries(engine) as (stats, times):
        for i in range(200):
            award_once(app, rng, random_member(rng, args.members, member_id), 10_000_000 + i)
    out["award"] = summarize(stats, times, 200, time.perf_counter() - t0)
    client, phone = app.test_client(), member_phone(member_id)
    msg_ids = itertools.count(8_500_000_000_000_000_000)
    for content in ("积分", KEYWORD):
        pushes = [wrap(phone, content, next(msg_ids)) for _ in range(100)]
        t0 = time.perf_counter()
        with counting_queries(engine) as (stats, times):
            for query, body in pushes:
                client.post(WEBHOOK, query_string=query, data=body)
        out[content] = summarize(stats, times, 100, time.perf_counter() - t0)
    return out


def profile(app, args, member_id: int) -> str:
    """cProfile of 500 awards and 200 积分 replies (by cumulative time): bench/out/points-profile.txt."""
    rng = random.Random(args.seed + 2)
    client, phone = app.test_client(), member_phone(member_id)
    pushes = [wrap(phone, "积分", 8_900_000_000_000_000_000 + i) for i in range(200)]

    def awards():
        for i in range(500):
            award_once(app, rng, random_member(rng, args.members, member_id), 20_000_000 + i)

    def replies():
        for query, body in pushes:
            client.post(WEBHOOK, query_string=query, data=body)

    report = io.StringIO()
    for title, run in (("500 awards", awards), ("200 积分 replies", replies)):
        prof = cProfile.Profile()
        prof.runcall(run)
        report.write(f"===== {title} =====\n")
        pstats.Stats(prof, stream=report).sort_stats("cumulative").print_stats(40)
    return report.getvalue()


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.members < 2 or args.awards < 1 or args.requests < 1:
        raise BenchError("--members must be at least 2, --awards and --requests at least 1")
    url = make_url(args.database_url)
    load_start, probes = os.getloadavg(), {"start": cpu_probe()}
    print(f"points on {url.render_as_string()} and {args.redis_url}: dropping schema public, migrating",
          flush=True)
    schema_s = fresh_schema(args.database_url)
    redis = Redis.from_url(args.redis_url)
    redis.flushdb()
    app = make_app(args)
    latency_member = args.members       # no past, and the awards skip it: its ledger is exactly step 2's
    load_s = seed(app, args.members, args.history, latency_member)
    print(f"   schema in {schema_s:.1f}s; {args.members:,} members and fans, about {args.history} past entries "
          f"and lots each, loaded (COPY) in {load_s:.1f}s", flush=True)

    print(f"\n1. {args.awards} awards and {args.awards} bare ledger writes, alternating blocks of {BLOCK}",
          flush=True)
    result = dict(members=args.members, setup=dict(schema_s=schema_s, members_and_fans_s=load_s))
    result["throughput"] = throughput(app, args, latency_member)

    print(f"\n2. {args.ledger_rows} ledger rows for member {latency_member} through the engine", flush=True)
    t0 = time.perf_counter()
    result["history"] = give_history(app, latency_member, args.ledger_rows, random.Random(args.seed))
    result["setup"]["history_s"] = time.perf_counter() - t0
    with app.extensions["engine"].begin() as conn:
        conn.execute(text("ANALYZE"))
    print(f"   {result['history']['ledger_rows']} rows over {result['history']['days']} days in "
          f"{result['setup']['history_s']:.1f}s; {args.warmup} + {args.requests} pushes of each kind", flush=True)
    probes["before 积分"] = cpu_probe()
    lat = latency(app, args, latency_member)
    lat["stats"] = {k: percentiles(v) for k, v in lat["samples"].items()}
    result["latency"] = lat
    result["cold"] = cold_latency(app, args, latency_member)

    print("\n3. statements per operation (untimed)", flush=True)
    result["queries"] = query_report(app, args, latency_member)
    if args.profile:
        (OUT / "points-profile.txt").write_text(profile(app, args, latency_member))

    result["ledger_problems"] = ledger_problems(app)
    ok = print_report(result)
    probes["end"] = cpu_probe()
    result.update(load_average=dict(start=load_start, end=os.getloadavg()), cpu_probe_ms=probes)
    print(f"\nload average (1/5/15 min): {' '.join(f'{x:.2f}' for x in load_start)} at the start, "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end, on {os.cpu_count()} cores; "
          f"CPU probe {', '.join(f'{v:.0f} ms {k}' for k, v in probes.items())} (lower is faster)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = dict(when=stamp, cores=os.cpu_count(), database=url.render_as_string(), redis=args.redis_url,
                  awards=args.awards, requests=args.requests, seed=args.seed,
                  requirement_p99_ms=REQUIREMENT_P99_MS, passed=ok, **result)
    for path in (OUT / f"points-{stamp}.json", OUT / "points-latest.json"):
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    print(f"\nJSON: {OUT / f'points-{stamp}.json'}" + ("" if not args.profile else
                                                     f"\nprofile: {OUT / 'points-profile.txt'}")
          + ("" if ok else "\nREQUIREMENT OR CHECKS FAILED"))
    redis.flushdb()
    app.extensions["engine"].dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        sys.exit(f"bench: {exc}")
    except KeyboardInterrupt:
        sys.exit("bench: interrupted")
