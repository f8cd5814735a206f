"""Soak: a steady rate of mixed pushes for a long time on gunicorn + rq workers (`make bench-soak`).

    make bench-soak                                    # 30 min at 100 pushes/s
    make bench-soak BENCH_ARGS="--minutes 2 --rate 50"

What a long steady day must show: memory flat (the RSS of the web and worker process trees,
sampled every --sample seconds; the first samples after the warm-up are the baseline), no error
(every request 200, no failed job, no traceback in the logs), the event table complete (one row
per push sent) and the job queues drained at the end. The pushes mix what fans send: texts,
menu clicks, follows, VIEW clicks (silent) and locations, from 10,000 fans, each push distinct.
Runs on the real PostgreSQL and Redis (BENCH_DATABASE_URL, BENCH_REDIS_URL; see bench/README.md).
"""
import argparse
import json
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode

import psutil
from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import pushes
from bench.servers import (ACCOUNT, DATABASE_URL, OUT, REDIS_URL, ROOT, Server, Store, app_env,
                           ensure_wrk, prepare_service)
from bench.webhook import LUA

FIRST_MSG_ID = 7_500_000_000_000_000_000
# (share, fields): what fans send; every event gets its own CreateTime, every message a MsgId.
MIX = ((55, {"MsgType": "text", "Content": pushes.CONTENT}),
       (20, {"MsgType": "event", "Event": "CLICK", "EventKey": "MY_POINTS"}),
       (10, {"MsgType": "event", "Event": "subscribe"}),
       (10, {"MsgType": "event", "Event": "VIEW", "EventKey": "https://example.com/mall"}),
       (5, {"MsgType": "location", "Location_X": "30.25", "Location_Y": "120.16", "Scale": "15",
            "Label": "杭州西湖"}))
CONNECTIONS = 24


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=30, help="minutes of load (30)")
    p.add_argument("--rate", type=int, default=100, help="pushes per second (100)")
    p.add_argument("--web-workers", type=int, default=2, help="gunicorn -w (2)")
    p.add_argument("--job-workers", type=int, default=1, help="rq workers (1)")
    p.add_argument("--sample", type=int, default=30, help="seconds between memory samples (30)")
    return p.parse_args(argv)


def write_mixed(path, count: int) -> None:
    """`count` distinct plaintext pushes of the MIX, fans round robin, one per line."""
    fans = pushes.phones("plain")
    kinds = [fields for share, fields in MIX for _ in range(share)]
    base = int(time.time())
    with open(path, "w", encoding="utf-8") as out:
        for n in range(count):
            phone, fields = fans[n % pushes.FANS], dict(kinds[n % len(kinds)])
            if fields["MsgType"] != "event":
                fields["MsgId"] = FIRST_MSG_ID + n
            # A fan's events are told apart by CreateTime (their dedup key, WECHAT-PLATFORM.md §2).
            query, body = phone.wrap(phone.xml(fields, create_time=base + n))
            out.write(f"/wechat/{ACCOUNT['slug']}?{urlencode(query)}\t{body.decode()}\n")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn's workers, rq's horses)."""
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
    except psutil.NoSuchProcess:
        return 0.0


def start_workers(count: int, nice: int = 0) -> list[subprocess.Popen]:
    """`count` rq workers (the first with the scheduler) and rq's cron, at `nice` (0: as we are)."""
    log = open(OUT / "soak-workers.log", "wb")
    cmd = [*(["nice", "-n", str(nice)] if nice else []), sys.executable, "-m", "rq.cli", "worker", "-w",
           "workers.runtime.AppWorker", "--url", REDIS_URL, "high", "default", "low"]
    procs = [subprocess.Popen(cmd + (["--with-scheduler"] if i == 0 else []), cwd=ROOT, env=app_env(),
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
             for i in range(count)]
    procs.append(subprocess.Popen([sys.executable, "-m", "rq.cli", "cron", "workers.schedule", "--url", REDIS_URL],
                                  cwd=ROOT, env=app_env(), stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True))
    if nice:
        for proc in procs:
            lower_session_priority(proc.pid, nice)
    return procs


def lower_session_priority(pid: int, nice: int) -> None:
    """Each worker has a session of its own, and Linux's autogroup scheduling shares the CPU
    between sessions before nice counts inside one: the session's own nice is what yields."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
    except OSError:          # no autogroup (a kernel without it, or sched_autogroup_enabled=0)
        pass


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def failed_jobs(redis: Redis) -> int:
    return sum(redis.zcard(k) for k in redis.scan_iter("rq:failed:*") if redis.type(k) == b"zset")


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    OUT.mkdir(exist_ok=True)
    wrk = ensure_wrk()
    prepare_service()
    seconds = int(args.minutes * 60)
    lines = int(seconds * args.rate * 1.2) + 1000       # never wraps: every push sent is distinct
    path = OUT / "pushes-soak.txt"
    t0 = time.monotonic()
    write_mixed(path, lines)
    print(f"generated {lines} mixed pushes in {time.monotonic() - t0:.0f}s", flush=True)
    store, redis = Store(), Redis.from_url(REDIS_URL)
    engine = create_engine(make_url(DATABASE_URL).set(drivername="postgresql+psycopg"))
    with ExitStack() as stack:
        stack.callback(store.close)
        stack.callback(engine.dispose)
        store.reset()
        web = Server("soak", "wsgi:app", args.web_workers, env=app_env())
        stack.callback(web.stop)
        web.wait_ready()
        workers = start_workers(args.job_workers)
        stack.callback(stop, workers)
        delay = max(1, round(CONNECTIONS * 1000 / args.rate) - 10)
        cmd = [wrk, "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--timeout", "10s", "-s", str(LUA),
               web.url, "--", str(path), "", "2"]
        print(f"soak: {args.minutes:g} min at {args.rate}/s on gunicorn -w {args.web_workers} + "
              f"{args.job_workers} rq worker(s) ({web.url})", flush=True)
        load = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                                env={**app_env(), "BENCH_DELAY_MS": str(delay)})
        stack.callback(load.kill)           # an interrupted soak leaves no wrk behind
        samples = []
        started = time.monotonic()
        while load.poll() is None:
            time.sleep(args.sample)
            with engine.connect() as conn:
                events = conn.scalar(text("SELECT count(*) FROM event"))
            sample = dict(minute=round((time.monotonic() - started) / 60, 1), web_mb=rss_mb(web.proc.pid),
                          workers_mb=sum(rss_mb(p.pid) for p in workers), events=events,
                          queued=store.queued_jobs())
            samples.append(sample)
            print("   {minute:5.1f} min  web {web_mb:6.1f} MB  workers {workers_mb:6.1f} MB  "
                  "events {events:8d}  queued {queued}".format(**sample), flush=True)
        out = load.stdout.read()
        result = json.loads(next(ln for ln in out.splitlines() if ln.startswith("BENCH_RESULT "))[13:])
        rows, _ = store.events()
        drained_at = time.monotonic()
        while store.queued_jobs() and time.monotonic() - drained_at < 120:
            time.sleep(1)
        sent = sum(result["sent"])
        errors = result["bad"] + sum(result[k] for k in ("connect", "read", "write", "timeout"))
        logs = web.log_since(0) + (OUT / "soak-workers.log").read_text(errors="replace")
        problems = []
        if errors:
            problems.append(f"{errors} bad replies or socket errors ({result['bad_status'] or '-'})")
        if not sent - CONNECTIONS <= rows <= sent:
            problems.append(f"{rows} event rows for {sent} pushes sent")
        if store.queued_jobs():
            problems.append(f"{store.queued_jobs()} jobs still queued two minutes after the load")
        if failed_jobs(redis):
            problems.append(f"{failed_jobs(redis)} failed jobs")
        if "Traceback" in logs:
            problems.append(f"{logs.count('Traceback')} tracebacks in the logs (bench/out/soak*.log)")
        steady = [s for s in samples if s["minute"] >= min(5, args.minutes / 3)] or samples
        first, last = steady[0], steady[-1]
        growth = {k: (last[k] - first[k]) / first[k] if first[k] else 0.0 for k in ("web_mb", "workers_mb")}
        if any(g > 0.10 for g in growth.values()):
            problems.append("memory grew over 10% after the warm-up: " +
                            ", ".join(f"{k} {first[k]:.0f} -> {last[k]:.0f} MB" for k in growth))
    print(f"\n{sent} pushes in {result['duration_us'] / 6e7:.1f} min ({sent / (result['duration_us'] / 1e6):.0f}/s); "
          f"p50 {result['p50_us'] / 1000:.1f} ms, p99 {result['p99_us'] / 1000:.1f} ms, max {result['max_us'] / 1000:.0f} ms; "
          f"errors {errors}; event rows {rows}")
    print(f"memory after warm-up -> end: web {first['web_mb']:.0f} -> {last['web_mb']:.0f} MB "
          f"({growth['web_mb']:+.1%}), workers {first['workers_mb']:.0f} -> {last['workers_mb']:.0f} MB "
          f"({growth['workers_mb']:+.1%})")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"soak-{stamp}.json").write_text(json.dumps(dict(args=vars(args), result=result, samples=samples,
                                                            event_rows=rows, problems=problems), indent=1))
    for problem in problems:
        print(f"FAIL: {problem}")
    print("soak: ok" if not problems else "soak: FAIL")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
