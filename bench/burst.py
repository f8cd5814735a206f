"""Burst: 60 s at 3x the rate the box sustains, open loop (`python -m bench.burst`).

    python -m bench.burst                          # measure the sustained rate, then 3x it for 60 s
    python -m bench.burst --rate 600 --seconds 30  # a given rate instead

What a mass send's replies do to us (the hot-path issue): pushes keep coming at their own pace
whatever we answer, and WeChat waits 5 s for each. Set-up (not timed): nginx in front of
gunicorn -w 4 (bench/front.py: it buffers requests and stamps `X-Request-Start`, as in
production), rq workers at nice 10 (on one box the acknowledgements come first), PostgreSQL and
Redis (bench/servers.py), every one of the 10,000 fans greeted once (known fans). Then:
1. the sustained rate: wrk closed loop (-c16) for 10 s on safe-mode texts, through nginx;
2. the burst: `--factor` (3) times that rate for `--seconds` (60), open loop (wrk with
   bench/burst.lua: each push leaves at its due time on a free connection, whether or not the
   earlier ones were answered); a push that waited past DEFER_AFTER_S before reaching the app
   is acknowledged at once and finished by a worker (bot/hand_off.py). The sandbox's
   customer-service windows are opened as WeChat opens them, one per push, on the same schedule.
Checks (a failed one prints FAIL, exit 1): every push left on time (else the run was not open
loop); every push answered 200 within 5 s (WeChat's limit, §2); the event table has one row per
push; every push acknowledged without a reply has its answer row, sent as a customer-service
message while the fan's window has budget (5 a window, §4.7: a fan with more acknowledged texts
has the rest waiting for their next passive reply, by the outbound policy); no failed job.
JSON: bench/out/burst-latest.json.
"""
import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from types import SimpleNamespace

from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import pushes
from bench.front import Front
from bench.servers import (ACCOUNT, BENCH, DATABASE_URL, OUT, REDIS_URL, BenchError, Server, Store, app_env, ensure_wrk,
                           prepare_service)
from bench.soak import failed_jobs, start_workers, stop
from bench.webhook import DEFERRED_LINE, GREETING_MSG_ID, run_wrk
from bot.clock import Clock
from bot.outbound import WINDOWS
from bot.sandbox.phone import sandbox_openid
from bot.sandbox.state import SandboxWeChat
from bot.sandbox.windows import CsWindows

WECHAT_WAIT_S = 5.0          # WECHAT-PLATFORM.md §2: no answer in 5 s, and WeChat tries again
FIRST_MSG_ID = 7_900_000_000_000_000_000


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=int, default=0, help="pushes/s of the burst (default: factor x sustained)")
    p.add_argument("--factor", type=float, default=3.0, help="times the sustained rate (3)")
    p.add_argument("--seconds", type=int, default=60, help="length of the burst (60)")
    p.add_argument("--web-workers", type=int, default=4, help="gunicorn -w (4)")
    p.add_argument("--job-workers", type=int, default=2, help="rq workers (2)")
    p.add_argument("--job-nice", type=int, default=10,
                   help="the rq workers' nice (10): on one box the webhook's acknowledgements come first")
    p.add_argument("--drain", type=int, default=600, help="seconds to wait for the queues afterwards (600)")
    return p.parse_args(argv)


LUA = BENCH / "burst.lua"
CONNECTIONS = 4000       # in flight at once: the rate times the longest answer, with room


def run_burst(wrk: str, url: str, file, rate: int, seconds: int, start_ms: float) -> dict:
    cmd = [wrk, "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds + 12}s", "--timeout", "30s", "-s", str(LUA),
           url, "--", str(file), str(rate), f"{start_ms:.0f}", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("BURST_RESULT ")]
    if done.returncode or not lines:
        raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return json.loads(lines[-1][len("BURST_RESULT "):])


def open_windows_on_schedule(redis: Redis, count: int, rate: int, start_ms: float) -> None:
    """What WeChat does as each fan sends their text: 5 customer-service messages in 48 h (§4.7),
    for push n at its due time (fans round robin, as bench/pushes.py writes them)."""
    openids = [sandbox_openid(ACCOUNT["slug"], f"fan{n}") for n in range(pushes.FANS)]
    n = 0
    while n < count:
        due = start_ms / 1000 + n / rate
        time.sleep(max(0.0, due - time.time()))
        upto = min(count, int((time.time() - start_ms / 1000) * rate) + 1)
        pipe = redis.pipeline(transaction=False)
        windows = CsWindows(SimpleNamespace(redis=pipe, now=time.time))
        for k in range(n, max(upto, n + 1)):
            windows.open_message(ACCOUNT["appid"], openids[k % pushes.FANS])
        pipe.execute()
        n = max(upto, n + 1)


def outbound_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT status, count(*) FROM outbound_message GROUP BY status")).all())


def over_window_budget(engine) -> tuple[int, list[str]]:
    """(answers waiting past the window's budget, fans whose answers break the policy). Each of
    a fan's texts reopens their 48-hour window with a budget of 5 customer-service messages
    (§4.7): answers sent after the fan's last text are at most 5, and what is over waits for
    their next passive reply (bot/outbound.py; the sandbox refuses a sixth with 45047). So a fan
    has every answer sent or waiting, and at least min(answers, 5) sent."""
    allowed = WINDOWS["msg"][0]
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT openid, count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'pending'), "
            "count(*) FROM outbound_message GROUP BY openid")).all()
    waiting = sum(pending for _, _, pending, _ in rows)
    wrong = [openid for openid, sent, pending, total in rows
             if sent < min(total, allowed) or sent + pending != total]
    return waiting, wrong


def main(argv=None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))      # wrk's and nginx's sockets
    OUT.mkdir(exist_ok=True)
    wrk = ensure_wrk()
    prepare_service()
    store, redis = Store(), Redis.from_url(REDIS_URL)
    engine = create_engine(make_url(DATABASE_URL).set(drivername="postgresql+psycopg"))
    problems: list[str] = []
    with ExitStack() as stack:
        stack.callback(store.close)
        stack.callback(engine.dispose)
        store.reset()
        web = Server("burst", "wsgi:app", args.web_workers, ("--backlog", "4096"), env=app_env())
        stack.callback(web.stop)
        web.wait_ready()
        front = Front(web.port)
        stack.callback(front.stop)
        front.wait_ready()
        workers = start_workers(args.job_workers, args.job_nice)
        stack.callback(stop, workers)
        ok, seconds = pushes.greet_every_fan(web.url, GREETING_MSG_ID)
        print(f"every fan greeted first: {ok} pushes in {seconds:.1f} s", flush=True)

        sustained_file = OUT / "pushes-burst-sustained.txt"
        pushes.write_pushes(sustained_file, "safe", 25_000, FIRST_MSG_ID - 1_000_000)
        store.reset(keep_fans=True)
        wrk_args = SimpleNamespace(threads=2, connections=16)
        sustained = run_wrk(wrk, wrk_args, front.url, sustained_file, "<Encrypt>", 10)["rps"]
        rate = args.rate or int(sustained * args.factor)
        count = rate * args.seconds
        print(f"sustained (wrk -c16 closed loop through nginx, 10 s): {sustained:.0f} pushes/s; burst: "
              f"{rate}/s for {args.seconds} s", flush=True)

        burst_file = OUT / "pushes-burst.txt"
        pushes.write_pushes(burst_file, "safe", count, FIRST_MSG_ID)
        while store.unfinished():                   # the sustained run's jobs first
            time.sleep(0.5)
        store.reset(keep_fans=True)
        log_from = web.log_size()
        # WeChat knows its followers: the sandbox is told each fan follows, so a customer-service
        # message to them is not refused (40003) as to an openid it never saw.
        world = SandboxWeChat(redis, Clock())
        world.register_account(ACCOUNT["appid"], ACCOUNT["secret"], ACCOUNT["type"], True, ACCOUNT["original_id"])
        for n in range(pushes.FANS):
            world.user_event(ACCOUNT["appid"], sandbox_openid(ACCOUNT["slug"], f"fan{n}"), "follow")
        start_ms = (time.time() + 2) * 1000
        opener = threading.Thread(target=open_windows_on_schedule, args=(redis, count, rate, start_ms), daemon=True)
        opener.start()
        res = run_burst(wrk, front.url, burst_file, rate, args.seconds, start_ms)
        opener.join(30)
        over_5s = res["max_us"] > WECHAT_WAIT_S * 1e6
        errors = res["bad"] + sum(res[k] for k in ("connect", "read", "write", "timeout"))
        print(f"burst: {res['sent']} of {count} pushes sent ({res['late_sends']} over 250 ms late, worst "
              f"{res['max_late_ms']:.0f} ms), {res['requests']} answered: passive {res['passive']}, acknowledged "
              f"{res['acked']}, errors {errors}; p50 {res['p50_us'] / 1000:.0f} ms, p99 {res['p99_us'] / 1000:.0f} ms, "
              f"max {res['max_us'] / 1000:.0f} ms", flush=True)

        drain_from = time.monotonic()
        while store.unfinished() and time.monotonic() - drain_from < args.drain:
            time.sleep(1)
        drained = time.monotonic() - drain_from
        rows, distinct = store.events()
        outbound = outbound_counts(engine)
        deferred_logged = sum(int(late) + int(busy)
                              for late, busy in DEFERRED_LINE.findall(web.log_since(log_from)))
        print(f"queues and streams drained in {drained:.0f} s; event rows {rows} ({distinct} MsgIds); "
              f"outbound {outbound}; deferred (server log) {deferred_logged}", flush=True)

        if res["sent"] != count or res["late_sends"] > count // 100:
            problems.append(f"not open loop: {res['sent']} of {count} sent, {res['late_sends']} late "
                            f"(raise CONNECTIONS or lower --rate)")
        if res["requests"] != res["sent"] or errors:
            problems.append(f"{res['sent'] - res['passive'] - res['acked']} pushes not answered 200 "
                            f"({errors} errors)")
        if over_5s:
            problems.append(f"the slowest answer took {res['max_us'] / 1e6:.1f} s (WeChat tries again after "
                            f"{WECHAT_WAIT_S:.0f} s)")
        if distinct != count or rows != distinct:
            problems.append(f"event table: {rows} rows, {distinct} MsgIds for {count} pushes")
        waiting, wrong = over_window_budget(engine)
        print(f"answers past a window's budget, waiting for the fan's next passive reply: {waiting}", flush=True)
        if sum(outbound.values()) < res["acked"] or wrong:
            problems.append(f"{res['acked']} pushes acknowledged; outbound rows {outbound}; {len(wrong)} fans "
                            f"answered against the window's budget (e.g. {wrong[:3]})")
        if store.unfinished():
            problems.append(f"{store.unfinished()} jobs or deferred pushes still waiting {args.drain} s after the burst")
        if failed_jobs(redis):
            problems.append(f"{failed_jobs(redis)} failed jobs")
    report = dict(args=vars(args), sustained_rps=sustained, rate=rate, pushes=count, wrk=res,
                  drained_s=drained, event_rows=rows, outbound=outbound, problems=problems)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in (OUT / f"burst-{stamp}.json", OUT / "burst-latest.json"):
        path.write_text(json.dumps(report, indent=1))
    for problem in problems:
        print(f"FAIL: {problem}")
    print("burst: ok" if not problems else "burst: FAIL")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
