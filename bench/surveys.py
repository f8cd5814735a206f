"""Survey benchmark on PostgreSQL: 100 tourists submitting a page of answers at once (the POST
that checks the answers against their questions, required ones included, and saves them), against a bare Flask POST
handler that parses the same form and redirects, in the same run.

    .venv/bin/python -m bench.surveys [--url postgresql://postgres@127.0.0.1/bench_surveys]
        [--redis redis://127.0.0.1:6379/3] [--tourists 100] [--rounds 5]

Each round: every tourist opens the survey link (their response is made then, as on a phone),
then all of them submit the first page at the same moment, one thread each. Both servers are
werkzeug's threaded server in this process (bench/mall.py has the same set-up), so the numbers
compare the two handlers rather than measure absolute capacity. The schema is dropped and
recreated; the run fails unless every submit saved its answers.
"""
import argparse
import logging
import re
import secrets
import threading
import time
from datetime import datetime, timezone

import requests
from flask import Flask, redirect, request
from redis import Redis
from sqlalchemy import func, select

from bench.mall import cookie_for, fresh_schema, run, serve
from bot import create_app
from bot.jobs import committed
from bot.sandbox.state import SandboxWeChat
from bot.surveys import catalog, links
from bot.surveys.definition import parse
from models import Account, Company, Staff, Store, Survey, SurveyResponse

SURVEY = """code: bench
title: 行程满意度调查
points: 0
pages:
  - title: 导游服务
    questions:
      - {id: guide, kind: rating, title: 您对导游的服务满意吗？, required: true}
      - {id: recommend, kind: nps, title: 您有多大可能向朋友推荐我们？, required: true}
      - {id: liked, kind: multiple, title: 您喜欢哪些景点？, options: [西湖, 灵隐寺, 宋城, 西溪湿地]}
      - {id: again, kind: single, title: 您还会参加我们的行程吗？, options: [会, 不一定, 不会], required: true}
  - title: 下次出行
    questions:
      - {id: why, kind: text, title: 哪里让您不满意？, required: true, show_if: {question: guide, at_most: 2}}
      - {id: next_trip, kind: date, title: 您计划下次什么时候出行？}
"""
ANSWERS = {"page": "0", "guide": "2", "recommend": "9", "liked": ["西湖", "宋城"], "again": "会"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1/bench_surveys")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--tourists", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args(argv)


def seed(app) -> str:
    """The service account, a store with a guide, the survey and the guide's link: its path."""
    now = datetime.now(timezone.utc)
    with committed(app) as (db, _jobs):
        db.add(Account(slug="hq", type="service", verified=True, appid="wxbenchsurvey00001", secret="bench-secret",
                       token="benchtoken", original_id="gh_benchsurvey", name="HQ"))
        company = Company(code="C1", name="集团")
        db.add(company)
        db.flush()
        store = Store(code="S1", name="西湖门店", company_id=company.id)
        db.add(store)
        db.flush()
        guide = Staff(phone="13900000001", name="王导", store_id=store.id, roles="guide")
        db.add(guide)
        catalog.load(db, parse(SURVEY), now)
        db.flush()
        link = links.link_for(db, db.scalar(select(Survey)), guide, "T1", now)
        url = links.survey_url(app.config["PUBLIC_BASE_URL"], "hq", app.config["SECRET_KEY"], link)
    return url[len(app.config["PUBLIC_BASE_URL"]):]


def bare_app() -> Flask:
    """Parses the same form and answers the same redirect: no session, no checks, no database."""
    bare = Flask("bare")

    @bare.post("/bare/<token>")
    def save(token):
        form = {key: request.form.getlist(key) for key in request.form}
        return redirect(f"/bare/{token}?page={len(form)}", 303)
    return bare


def main(argv=None) -> int:
    args = parse_args(argv)
    fresh_schema(args.url)
    redis = Redis.from_url(args.redis)
    redis.flushdb()
    app = create_app({"DATABASE_URL": args.url, "REDIS": redis, "SANDBOX": True, "TESTING": True,
                      "JOBS_INLINE": False, "SECRET_KEY": secrets.token_hex(16)})
    logging.getLogger("werkzeug").setLevel(logging.WARNING)     # a line per request would be the bench
    # The sandbox plays WeChat: the page's jsapi_ticket comes from it (once, then from Redis).
    SandboxWeChat(redis, app.extensions["clock"]).register_account(
        "wxbenchsurvey00001", "bench-secret", "service", True, "gh_benchsurvey")
    path = seed(app)
    ours, ours_server = serve(app)
    bare, bare_server = serve(bare_app())
    results = {"bare": [], "ours": []}
    for round_ in range(args.rounds):
        tourists = []
        for n in range(args.tourists):
            s = requests.Session()
            s.cookies.set("session", cookie_for(app, f"otourist{round_:03d}{n:017d}"), domain="127.0.0.1")
            page = s.get(ours + path)
            assert page.status_code == 200, page.text[:300]
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            tourists.append((s, {**ANSWERS, "csrf_token": csrf}))
        start = threading.Barrier(args.tourists)

        def submit(t, url):
            start.wait()
            return t[0].post(url, data=t[1], allow_redirects=False).status_code
        results["bare"].append(run(f"round {round_ + 1}: bare Flask POST (parse, redirect)",
                                   [lambda t=t: submit(t, f"{bare}/bare/x") for t in tourists], args.tourists))
        start = threading.Barrier(args.tourists)
        results["ours"].append(run(f"round {round_ + 1}: survey page POST (CSRF, person, checks, save)",
                                   [lambda t=t: submit(t, ours + path) for t in tourists], args.tourists))
    ours_server.shutdown()
    bare_server.shutdown()
    with app.app_context():
        db = app.extensions["db"]()
        saved = db.scalar(select(func.count()).select_from(SurveyResponse).where(SurveyResponse.page == 1))
        db.close()
    expected = args.tourists * args.rounds
    p50 = sorted(r["p50_ms"] for r in results["ours"])[len(results["ours"]) // 2]
    p99 = max(r["p99_ms"] for r in results["ours"])
    base50 = sorted(r["p50_ms"] for r in results["bare"])[len(results["bare"]) // 2]
    print(f"survey page POST, {args.tourists} at once: p50 {p50} ms (median round), p99 {p99} ms (worst round); "
          f"bare Flask p50 {base50} ms; ratio p50 {p50 / base50:.1f}x", flush=True)
    print(f"answers saved: {saved} of {expected}", flush=True)
    return 0 if saved == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
