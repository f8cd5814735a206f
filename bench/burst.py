"""Burst: 60 s at 3x the rate the box sustains, open loop (`python -m bench.burst`).

    python -m bench.burst                          # measure the sustained rate, then 3x it for 60 s
    python -m bench.burst --rate 600 --seconds 30  # a given rate instead

What a mass send's replies do to us (the hot-path issue): pushes keep coming at their own pace
whatever we answer, and WeChat waits 5 s for each. Set-up (not timed): gunicorn -w 2 + rq
workers on PostgreSQL and Redis (bench/servers.py), every one of the 10,000 fans greeted once
(known fans). Then:
1. the sustained rate: wrk closed loop (-c16) for 10 s on safe-mode texts;
2. the burst: `--factor` (3) times that rate for `--seconds` (60), open loop (asyncio: every push
   leaves at its own time, on its own connection, whether or not the earlier ones were answered),
   each stamped `X-Request-Start: t=<ms>` as a front server (nginx) would, so a push that waited
   in the listen queue past DEFER_AFTER_S is acknowledged at once and finished by a worker.
Checks (a failed one prints FAIL, exit 1): every push answered 200 within 5 s (WeChat's limit,
§2); the event table has one row per push; every push acknowledged without a reply has its
answer delivered as a customer-service message (its outbound row SENT), none left pending once
the queues drained; no failed job. JSON: bench/out/burst-latest.json.
"""
import argparse
import asyncio
import json
import resource
import sys
import time
from contextlib import ExitStack
from types import SimpleNamespace
from urllib.parse import urlsplit

from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import pushes
from bench.servers import (ACCOUNT, DATABASE_URL, OUT, REDIS_URL, Server, Store, app_env, ensure_wrk,
                           prepare_service)
from bench.soak import failed_jobs, start_workers, stop
from bench.webhook import GREETING_MSG_ID, run_wrk
from bot.clock import Clock
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
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn -w (2)")
    p.add_argument("--job-workers", type=int, default=2, help="rq workers (2)")
    p.add_argument("--drain", type=int, default=600, help="seconds to wait for the queues afterwards (600)")
    return p.parse_args(argv)


def requests_of(path, count: int) -> list[tuple[bytes, bytes, str]]:
    """(request line and path, body, the fan's openid) of `count` safe-mode texts, fans round robin."""
    pushes.write_pushes(path, "safe", count, FIRST_MSG_ID)
    openids = [sandbox_openid(ACCOUNT["slug"], f"fan{n}") for n in range(pushes.FANS)]
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        target, body = line.split("\t", 1)
        out.append((target.encode(), body.encode(), openids[n % pushes.FANS]))
    return out


async def post(host: str, port: int, target: bytes, body: bytes, due: float) -> tuple[int, float, bool]:
    """(HTTP status or -1, seconds from when it was due to the whole answer, a reply body or not)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
        head = (b"POST " + target + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Type: text/xml\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n"
                b"X-Request-Start: t=" + f"{due_epoch(due):.3f}".encode() + b"\r\n\r\n")
        writer.write(head + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        status = int(data.split(b" ", 2)[1])
        reply = data.split(b"\r\n\r\n", 1)[1]
        return status, time.monotonic() - due, reply not in (b"", b"success")
    except (OSError, asyncio.TimeoutError, ValueError, IndexError):
        return -1, time.monotonic() - due, False


_CLOCKS = (time.time(), time.monotonic())


def due_epoch(due: float) -> float:
    """The wall-clock time a push was due at (what nginx's $msec would say when it arrived)."""
    return _CLOCKS[0] + (due - _CLOCKS[1])


async def burst(url: str, reqs, rate: int, windows: CsWindows) -> list[tuple[int, float, bool]]:
    parts = urlsplit(url)
    start = time.monotonic() + 0.5
    tasks = []
    for n, (target, body, openid) in enumerate(reqs):
        due = start + n / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        # What WeChat does when the fan sends it: 5 customer-service messages within 48 h (§4.7).
        windows.open_message(ACCOUNT["appid"], openid)
        tasks.append(asyncio.create_task(post(parts.hostname, parts.port, target, body, due)))
    return await asyncio.gather(*tasks)


def outbound_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT status, count(*) FROM outbound_message GROUP BY status")).all())


def main(argv=None) -> int:
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))      # one socket per push in flight
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
        workers = start_workers(args.job_workers)
        stack.callback(stop, workers)
        ok, seconds = pushes.greet_every_fan(web.url, GREETING_MSG_ID)
        print(f"every fan greeted first: {ok} pushes in {seconds:.1f} s", flush=True)

        sustained_file = OUT / "pushes-burst-sustained.txt"
        pushes.write_pushes(sustained_file, "safe", 25_000, FIRST_MSG_ID - 1_000_000)
        store.reset(keep_fans=True)
        wrk_args = SimpleNamespace(threads=2, connections=16)
        sustained = run_wrk(wrk, wrk_args, web.url, sustained_file, "<Encrypt>", 10)["rps"]
        rate = args.rate or int(sustained * args.factor)
        print(f"sustained (wrk -c16 closed loop, 10 s): {sustained:.0f} pushes/s; burst: {rate}/s "
              f"for {args.seconds} s", flush=True)

        reqs = requests_of(OUT / "pushes-burst.txt", rate * args.seconds)
        while store.queued_jobs():                  # the sustained run's jobs first
            time.sleep(0.5)
        store.reset(keep_fans=True)
        log_from = web.log_size()
        t0 = time.monotonic()
        # WeChat knows its followers: the sandbox is told each fan follows, so a customer-service
        # message to them is not refused (40003) as to an openid it never saw.
        world = SandboxWeChat(redis, Clock())
        world.register_account(ACCOUNT["appid"], ACCOUNT["secret"], ACCOUNT["type"], True, ACCOUNT["original_id"])
        for n in range(pushes.FANS):
            world.user_event(ACCOUNT["appid"], sandbox_openid(ACCOUNT["slug"], f"fan{n}"), "follow")
        windows = CsWindows(SimpleNamespace(redis=redis, now=time.time))      # the sandbox's, as WeChat's
        answers = asyncio.run(burst(web.url, reqs, rate, windows))
        took = time.monotonic() - t0
        statuses = [a[0] for a in answers]
        latencies = sorted(a[1] for a in answers)
        passive = sum(1 for a in answers if a[0] == 200 and a[2])
        acknowledged = sum(1 for a in answers if a[0] == 200 and not a[2])
        late = sum(1 for s in latencies if s > WECHAT_WAIT_S)
        print(f"burst: {len(answers)} pushes in {took:.1f} s; 200: {statuses.count(200)}, other: "
              f"{len(answers) - statuses.count(200)}; passive replies {passive}, acknowledged {acknowledged}; "
              f"p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, p99 {latencies[int(len(latencies) * .99)] * 1000:.0f} ms, "
              f"max {latencies[-1] * 1000:.0f} ms; over 5 s: {late}", flush=True)

        drain_from = time.monotonic()
        while store.unfinished() and time.monotonic() - drain_from < args.drain:
            time.sleep(1)
        drained = time.monotonic() - drain_from
        rows, distinct = store.events()
        outbound = outbound_counts(engine)
        deferred_logged = web.log_since(log_from).count("push deferred to a worker")
        print(f"queues drained in {drained:.0f} s; event rows {rows} ({distinct} MsgIds); outbound {outbound}; "
              f"deferred (server log) {deferred_logged}", flush=True)

        if statuses.count(200) != len(answers):
            problems.append(f"{len(answers) - statuses.count(200)} pushes not answered 200")
        if late:
            problems.append(f"{late} answers took over {WECHAT_WAIT_S:.0f} s (WeChat would have tried again)")
        if distinct != len(answers) or rows != distinct:
            problems.append(f"event table: {rows} rows, {distinct} MsgIds for {len(answers)} pushes")
        if outbound.get("sent", 0) < acknowledged or set(outbound) - {"sent"}:
            problems.append(f"{acknowledged} pushes acknowledged without a reply; outbound rows {outbound}")
        if store.unfinished():
            problems.append(f"{store.unfinished()} jobs or deferred pushes still waiting {args.drain} s after the burst")
        if failed_jobs(redis):
            problems.append(f"{failed_jobs(redis)} failed jobs")
    report = dict(args=vars(args), sustained_rps=sustained, rate=rate, pushes=len(answers), seconds=took,
                  passive=passive, acknowledged=acknowledged, over_5s=late,
                  p50_ms=latencies[len(latencies) // 2] * 1000, p99_ms=latencies[int(len(latencies) * .99)] * 1000,
                  max_ms=latencies[-1] * 1000, drained_s=drained, event_rows=rows, outbound=outbound,
                  problems=problems)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for path in (OUT / f"burst-{stamp}.json", OUT / "burst-latest.json"):
        path.write_text(json.dumps(report, indent=1))
    for problem in problems:
        print(f"FAIL: {problem}")
    print("burst: ok" if not problems else "burst: FAIL")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
