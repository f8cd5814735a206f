"""Benchmark the fan-to-agent relay through the worker, in one run: `python -m bench.cs`.

    python -m bench.cs --rounds 4 --rate 10 --workers 4 --worker-class rq.worker.SimpleWorker
Set-up (not timed): schema public dropped and migrated, the account `bench` (bench/servers.py),
10 agents of capacity 5 following it (via the webhook) and on shift (上班), 50 fans who each sent
人工: 50 open conversations. `--workers` rq workers as in production (`rq worker -w
workers.runtime.AppWorker high default`: `high` jobs, the relay's deliveries among them, in the
worker process), each with the sandbox.

Rounds alternate, each opened by every agent's 列表 (their window: 5 messages / 48 h, §4.7):
- relay: every fan sends one text, spaced evenly at `--rate` pushes per second, posted to the
  webhook (Flask test client, safe mode, as the sandbox phone signs and encrypts it), timed until
  the customer-service message carrying it is in the agent's sandbox inbox (stamped with the
  wall clock): webhook, handler, commit, rq, the job (merge, window, API call). Texts pending
  for one agent leave merged.
- baseline: the bare outbound delivery, the same 50 texts to the same agents at the same rate,
  each told (bot.telling.Teller) in its own committed transaction here, timed the same way (no webhook).
Checks: every message arrives exactly once (else FAIL, exit 1). JSON: bench/out/cs-latest.json.
"""
import argparse
import json
import logging
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

from redis import Redis
from rq import Worker
from sqlalchemy import select

from bench.points_data import fresh_schema
from bench.points_report import cpu_probe, percentiles
from bench.servers import ACCOUNT, OUT, ROOT, BenchError
from bot import create_app
from bot.jobs import committed
from bot.sandbox import keys
from bot.sandbox.phone import Phone, sandbox_openid
from bot.sandbox.state import SandboxWeChat
from bot.telling import Teller
from models import Account, Company, Conversation, Fan, Member, Staff, Store
from models.cs import ASSIGNED

DATABASE_URL = os.environ.get("BENCH_CS_DATABASE_URL") or "postgresql://postgres@127.0.0.1/bench_cs"
REDIS_URL = os.environ.get("BENCH_CS_REDIS_URL") or "redis://127.0.0.1:6379/10"
TOKEN = re.compile(r"([rb])(\d+)f(\d+)")
AGENT_CAPACITY = 5


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.cs", description=__doc__.split("\n")[0])
    p.add_argument("--conversations", type=int, default=50, help="open conversations (50)")
    p.add_argument("--rounds", type=int, default=10, help="rounds of each kind (10): one message per fan each")
    p.add_argument("--rate", type=float, default=5.0,
                   help="pushes (or bare deliveries) per second (5: each fan writes every 10 s)")
    p.add_argument("--workers", type=int, default=2, help="rq worker processes (2)")
    p.add_argument("--senders", type=int, default=8, help="threads posting pushes (8)")
    p.add_argument("--worker-class", default="workers.runtime.AppWorker",
                   help="rq worker class (workers.runtime.AppWorker: production's, high jobs in the "
                        "worker process, a fork for the rest; tests.forking_worker.ForkingAppWorker: a fork "
                        "for every job, as production was before)")
    p.add_argument("--database-url", default=DATABASE_URL, help=f"its schema public is DROPPED ({DATABASE_URL})")
    p.add_argument("--redis-url", default=REDIS_URL, help=f"Redis db, FLUSHED ({REDIS_URL})")
    return p.parse_args(argv)


def make_app(args):
    """The real app on the benchmark's database and Redis, wall clock, jobs to rq; log to a file."""
    log = logging.FileHandler(OUT / "cs.log", mode="w", encoding="utf-8")
    log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[log])   # before create_app's basicConfig
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return create_app({"DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url, "SANDBOX": True,
                       "JOBS_INLINE": False, "SECRET_KEY": "bench-only-secret"})


def phone_for(app, name: str) -> Phone:
    client = app.test_client()

    def post(path, query, body):
        response = client.post(path, query_string=query, data=body)
        return response.status_code, response.data
    world = SandboxWeChat(app.extensions["redis"], app.extensions["clock"])
    return Phone(post, SimpleNamespace(**ACCOUNT), sandbox_openid(ACCOUNT["slug"], name), "safe", world)


def expect(person: Phone, text: str, start: str) -> None:
    if not (person.text(text) or "").startswith(start):
        raise BenchError(f"{text!r} was answered {person.last.content!r}, not {start!r}…")


def seed(app, conversations: int):
    """The account, 门店A, the agents (following, bound, on shift), the fans in conversation."""
    with committed(app) as (db, _):
        db.add(Account(**ACCOUNT, verified=True, name="Bench", notice_template_id="TPL_NEW_MESSAGES"))
        company = Company(code="HQ", name="总部")
        db.add(company)
        db.flush()
        store = Store(code="A", name="门店A", company_id=company.id)
        db.add(store)
    phone_for(app, "-").world.register_account(ACCOUNT["appid"], ACCOUNT["secret"], "service", True,
                                               ACCOUNT["original_id"])
    agents = [phone_for(app, f"agent{n}") for n in range(-(-conversations // AGENT_CAPACITY))]
    for n, agent in enumerate(agents):
        agent.follow()
        with committed(app) as (db, _):
            member = Member(phone=f"139{n:08d}")
            db.add(member)
            db.flush()
            db.scalar(select(Fan).where(Fan.openid == agent.openid)).member_id = member.id
            db.add(Staff(phone=member.phone, name=f"客服{n}", store_id=store.id, roles="agent",
                         capacity=AGENT_CAPACITY, member_id=member.id))
        expect(agent, "上班", "已上班")
    fans = [phone_for(app, f"fan{i}") for i in range(conversations)]
    for fan in fans:
        fan.follow()
        with committed(app) as (db, _):          # first touch at 门店A: its agents serve them
            db.scalar(select(Fan).where(Fan.openid == fan.openid)).store_id = store.id
        expect(fan, "人工", "已为您接通")
    with app.extensions["db"]() as db:
        rows = db.execute(select(Fan.openid, Staff.member_id).join(Conversation, Conversation.fan_id == Fan.id)
                          .join(Staff, Staff.id == Conversation.agent_id)
                          .where(Conversation.status == ASSIGNED)).all()
        openid_of = dict(db.execute(select(Fan.member_id, Fan.openid).where(Fan.member_id.is_not(None))).all())
    agent_of = {fan_openid: openid_of[member_id] for fan_openid, member_id in rows}
    if len(agent_of) != conversations:
        raise BenchError(f"{len(agent_of)} conversations assigned, not {conversations}")
    return agents, fans, agent_of


def start_workers(args) -> list[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url, "SANDBOX": "1",
           "JOBS_INLINE": "0", "SECRET_KEY": "bench-only-secret", "PYTHONPATH": str(ROOT)}
    rq = str(Path(sys.executable).with_name("rq"))
    procs = []
    for n in range(args.workers):
        log = open(OUT / f"cs-worker-{n}.log", "w")
        procs.append(subprocess.Popen([rq, "worker", "-w", args.worker_class, "high", "default",
                                       "--url", args.redis_url, "--name", f"bench-cs-{n}"],
                                      cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    redis = Redis.from_url(args.redis_url)
    deadline = time.time() + 60
    while len(Worker.all(connection=redis)) < args.workers:
        if time.time() > deadline or any(p.poll() is not None for p in procs):
            raise BenchError(f"rq workers did not start: see {OUT / 'cs-worker-0.log'}")
        time.sleep(0.2)
    return procs


def stop_workers(procs) -> None:
    for proc in procs:
        proc.terminate()          # rq's warm shutdown: the job in hand finishes
    for proc in procs:
        proc.wait(30)


class Inboxes:
    """What reached each agent in the sandbox: token -> delivery times (wall clock)."""

    def __init__(self, redis: Redis, agent_openids):
        self.redis, self.cursor = redis, {o: 0 for o in agent_openids}
        self.arrived: dict[tuple, list[float]] = {}
        self.messages = 0

    def poll(self) -> None:
        for openid, start in self.cursor.items():
            new = self.redis.lrange(keys.sandbox_inbox(ACCOUNT["appid"], openid), start, -1)
            self.cursor[openid] = start + len(new)
            for raw in new:
                entry = json.loads(raw)
                self.messages += entry["kind"] == "custom"
                self.note(entry.get("content") or "", entry["at"])

    def note(self, text: str, at: float) -> None:
        for kind, r, i in TOKEN.findall(text):
            self.arrived.setdefault((kind, int(r), int(i)), []).append(at)


def run_round(app, args, kind: str, r: int, agents, fans, agent_of, inboxes, pool) -> dict:
    """Every agent refreshes their window (列表); then one message per fan, at `--rate`."""
    for agent in agents:
        inboxes.note(agent.text("列表") or "", time.time())      # leftovers would ride along here
    with app.extensions["db"]() as db:
        account_id = db.scalar(select(Account.id).where(Account.slug == ACCOUNT["slug"]))
    start = time.time() + 0.05
    sent: dict[int, float] = {}
    posted: list[float] = []

    def one(i: int, fan: Phone):
        time.sleep(max(0.0, start + i / args.rate - time.time()))
        t0 = time.time()
        if kind == "r":
            fan.text(f"r{r}f{i} 你好，请问改签怎么收费？")
            posted.append(1000 * (time.time() - t0))
        else:
            with committed(app) as (db, enqueue):
                Teller(db, enqueue, app.extensions["clock"].now()).tell(
                    (account_id, agent_of[fan.openid]), f"b{r}f{i} 你好，请问改签怎么收费？")
        sent[i] = t0
    futures = [pool.submit(one, i, fan) for i, fan in enumerate(fans)]
    deadline = start + len(fans) / args.rate + 60
    while time.time() < deadline:
        inboxes.poll()
        if all(f.done() for f in futures) and all((kind, r, i) in inboxes.arrived for i in sent):
            break
        time.sleep(0.005)
    for f in futures:
        f.result()
    latencies = [1000 * (inboxes.arrived[(kind, r, i)][0] - t0) for i, t0 in sent.items()
                 if (kind, r, i) in inboxes.arrived]
    return dict(latencies=latencies, posted=posted, missing=len(sent) - len(latencies))


def settle(app, timeout: float = 30) -> None:
    """Wait until the workers finished every queued job (the set-up's notices)."""
    queues = [app.extensions["jobs"].queue(name) for name in ("high", "default")]
    deadline = time.time() + timeout
    while time.time() < deadline and any(q.count or q.started_job_registry.count for q in queues):
        time.sleep(0.05)


def report(results: dict, args) -> bool:
    relay, bare = (percentiles(results[k]["latencies"]) for k in ("r", "b"))
    webhook = percentiles(results["r"]["posted"])
    ok = not results["problems"]
    print(f"\nfan-to-agent relay, {args.conversations} conversations, {args.workers} rq workers "
          f"({args.worker_class}), "
          f"{args.rate:g} messages/s, {relay['n']} messages of each kind (ms):")
    print(f"{'':36}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
    for name, s in (("relay: push → agent's inbox", relay), ("baseline: bare delivery job", bare),
                    ("  (the relay push's webhook call)", webhook)):
        print(f"{name:36}{s['p50']:8.1f}{s['p95']:8.1f}{s['p99']:8.1f}{s['max']:8.1f}")
    print(f"ratio relay / baseline: p50 {relay['p50'] / bare['p50']:.2f}x, p99 {relay['p99'] / bare['p99']:.2f}x")
    print(f"customer-service messages to agents: {results['cs_messages']} for {2 * relay['n']} texts "
          "(pending texts for one agent leave merged)")
    for problem in results["problems"]:
        print(f"FAIL: {problem}")
    results["stats"] = dict(relay=relay, baseline=bare, webhook=webhook)
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.conversations < 1 or args.rounds < 1 or args.rate <= 0 or args.workers < 1:
        raise BenchError("--conversations, --rounds, --workers at least 1, --rate above 0")
    OUT.mkdir(exist_ok=True)
    probe = cpu_probe()
    print(f"cs relay on {args.database_url} and {args.redis_url}: dropping schema public, migrating", flush=True)
    fresh_schema(args.database_url)
    redis = Redis.from_url(args.redis_url)
    redis.flushdb()
    app = make_app(args)
    procs = start_workers(args)
    try:
        t0 = time.time()
        agents, fans, agent_of = seed(app, args.conversations)
        print(f"   {len(agents)} agents, {len(fans)} conversations in {time.time() - t0:.1f}s", flush=True)
        inboxes = Inboxes(redis, [a.openid for a in agents])
        settle(app)
        inboxes.poll()                                 # the 新会话 notices of the set-up
        inboxes.messages = 0
        results = {k: dict(latencies=[], posted=[], missing=0) for k in ("r", "b")}
        with ThreadPoolExecutor(args.senders) as pool:
            for r in range(args.rounds):
                for kind in ("r", "b"):
                    got = run_round(app, args, kind, r, agents, fans, agent_of, inboxes, pool)
                    for key in ("latencies", "posted"):
                        results[kind][key] += got[key]
                    results[kind]["missing"] += got["missing"]
                print(f"\r   round {r + 1}/{args.rounds}", end="", flush=True)
        time.sleep(1)
        inboxes.poll()
    finally:
        stop_workers(procs)
    problems = [f"{results[k]['missing']} {name} messages never arrived" for k, name in (("r", "relay"), ("b", "bare"))
                if results[k]["missing"]]
    twice = sum(len(times) > 1 for times in inboxes.arrived.values())
    problems += [f"{twice} messages arrived more than once"] if twice else []
    results.update(problems=problems, cs_messages=inboxes.messages)
    ok = report(results, args)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores; "
          f"CPU probe {probe:.0f} ms at the start, {cpu_probe():.0f} ms at the end (lower is faster)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = dict(when=stamp, args=vars(args), passed=ok, **{k: v for k, v in results.items() if k not in ("r", "b")},
                samples={k: results[k] for k in ("r", "b")})
    for path in (OUT / f"cs-{stamp}.json", OUT / "cs-latest.json"):
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    redis.flushdb()
    app.extensions["engine"].dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, KeyboardInterrupt) as exc:
        sys.exit(f"bench: {exc or 'interrupted'}")
