"""H5 mall benchmark on PostgreSQL: the product list page and the redeem POST under concurrent
load (200 products, 100,000 members), against a bare Flask page rendering the same template with
the same products, in the same run.

    .venv/bin/python -m bench.mall [--url postgresql://postgres@127.0.0.1/bench_mall]
        [--redis redis://127.0.0.1:6379/3] [--threads 8] [--requests 800]

Both servers are werkzeug's threaded server in this process, driven by `--threads` client threads
(requests.Session each, keep-alive); so client and servers share one interpreter and the numbers
are for comparing the two pages, not absolute capacity. The schema is dropped and recreated.
"""
import argparse
import secrets
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import requests
from flask import Blueprint, Flask, render_template
from redis import Redis
from sqlalchemy import create_engine, func, select, text
from werkzeug.serving import make_server

from bot import create_app, points
from bot.phones import mask_phone
from bot.points.engine import adjust
from bot.sandbox.state import SandboxWeChat
from bench.servers import free_port
from models import Account, Fan, MallCategory, MallOrder, Member, Product
from models.migrate import upgrade

PRODUCTS, MEMBERS, SHOPPERS = 200, 100_000, 200
ADDRESS = {"saved": "new", "name": "张三", "phone": "13900001111", "region": "浙江省 杭州市", "detail": "文三路 1 号"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1/bench_mall")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=800)
    return parser.parse_args(argv)


def fresh_schema(url: str) -> None:
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.rsplit("/", 1)[1]}):
            conn.execute(text(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()


def seed(app) -> list[int]:
    """200 products in 5 categories, 100,000 members; SHOPPERS of them follow and hold points."""
    db = app.extensions["db"]()
    with db.begin():
        account = Account(slug="hq", type="service", verified=True, appid="wxbenchmall0000001",
                          secret="bench-secret", token="benchtoken", original_id="gh_benchmall", name="HQ")
        db.add(account)
        cats = [MallCategory(code=f"c{n}", name=f"分类{n}", position=n) for n in range(5)]
        db.add_all(cats)
        db.flush()
        db.add_all([Product(code=f"p{n:03d}", name=f"商品{n:03d}", category_id=cats[n % 5].id,
                            points=100 + 10 * n, stock=1_000_000) for n in range(PRODUCTS)])
        db.execute(text("INSERT INTO member (phone, points, growth, level, imported, created_at) "
                        "SELECT '139' || lpad(g::text, 8, '0'), 0, 0, 'registered', false, now() "
                        "FROM generate_series(1, :n) g"), {"n": MEMBERS})
        ids = list(db.scalars(select(Member.id).order_by(Member.id).limit(SHOPPERS)))
        db.add_all([Fan(account_id=account.id, openid=f"obench{m:023d}", following=True, member_id=m)
                    for m in ids])
    db.close()
    for m in ids:
        with points.transaction(app) as book:
            adjust(book, m, 10_000_000, "压测赠送", "bench", f"bench-gift-{m}")
    return ids


def serve(app) -> tuple[str, object]:
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}", server


def bare_app(app, member_points: int) -> Flask:
    """A Flask app with nothing but the template: the same products, no OAuth, session or query."""
    bare = Flask("bare", template_folder=str(app.root_path + "/../h5/templates"))
    static = Blueprint("h5", "bare", static_folder=app.root_path + "/../h5/static", static_url_path="/h5/static")
    mall = Blueprint("mall", "bare")
    for rule, name in (("/p/<code>", "product"), ("/p/<code>/redeem", "redeem_form"), ("/orders", "orders"),
                       ("/points", "points"), ("/", "products")):
        mall.add_url_rule(rule, name, lambda **_: "")
    bare.register_blueprint(static)
    with app.app_context():
        db = app.extensions["db"]()
        cats = [SimpleNamespace(code=c.code, name=c.name) for c in db.scalars(select(MallCategory))]
        items = [SimpleNamespace(code=p.code, name=p.name, points=p.points, stock=p.stock)
                 for p in db.scalars(select(Product).order_by(Product.points))]
        db.close()
    config = {"appId": "wx", "timestamp": 0, "nonceStr": "n", "signature": "s" * 40, "jsApiList": [],
              "share": {"title": "", "desc": "", "link": ""}}
    bare.jinja_env.globals["wx_config"] = lambda *a: config
    bare.jinja_env.filters["mask_phone"] = mask_phone
    bare.config["JWEIXIN_URL"] = app.config["JWEIXIN_URL"]
    member = SimpleNamespace(points=member_points)

    @mall.get("/bare")
    def page():
        return render_template("mall/products.html", categories=cats, items=items, chosen="",
                               affordable=False, low=None, high=None, member=member)
    bare.register_blueprint(mall, url_prefix="/h5/hq/mall")
    return bare


def cookie_for(app, openid: str) -> str:
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.dumps({"h5_person": {"account": "hq", "openid": openid}})


def run(label: str, jobs: list, threads: int) -> dict:
    """jobs: callables returning an HTTP status; p50/p99 latency (ms) and throughput (req/s)."""
    latencies, statuses = [], {}
    lock = threading.Lock()

    def one(job):
        start = time.perf_counter()
        status = job()
        took = (time.perf_counter() - start) * 1000
        with lock:
            latencies.append(took)
            statuses[status] = statuses.get(status, 0) + 1
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, jobs))
    wall = time.perf_counter() - started
    latencies.sort()
    result = {"label": label, "n": len(latencies), "p50_ms": round(statistics.median(latencies), 1),
              "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
              "req_per_s": round(len(latencies) / wall, 1), "statuses": statuses}
    print(result, flush=True)
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    fresh_schema(args.url)
    redis = Redis.from_url(args.redis)
    redis.flushdb()
    app = create_app({"DATABASE_URL": args.url, "REDIS": redis, "SANDBOX": True, "TESTING": True,
                      "JOBS_INLINE": False, "SECRET_KEY": secrets.token_hex(16)})
    # The sandbox plays WeChat: the page's jsapi_ticket comes from it (once, then from Redis).
    SandboxWeChat(redis, app.extensions["clock"]).register_account(
        "wxbenchmall0000001", "bench-secret", "service", True, "gh_benchmall")
    t0 = time.perf_counter()
    shoppers = seed(app)
    print(f"seeded {PRODUCTS} products, {MEMBERS} members in {time.perf_counter() - t0:.1f}s", flush=True)
    ours, ours_server = serve(app)
    bare, bare_server = serve(bare_app(app, 10_000_000))
    local = threading.local()

    def session_of(member_id: int) -> requests.Session:
        per = getattr(local, "sessions", None) or {}
        local.sessions = per
        if member_id not in per:
            s = requests.Session()
            s.cookies.set("session", cookie_for(app, f"obench{member_id:023d}"), domain="127.0.0.1")
            per[member_id] = s
        return per[member_id]

    n = args.requests
    # Warm-up: the jsapi ticket, the templates, the connection pools.
    requests.get(f"{ours}/h5/hq/mall/", cookies={"session": cookie_for(app, f"obench{shoppers[0]:023d}")})
    requests.get(f"{bare}/h5/hq/mall/bare")
    results = [
        run("bare Flask: same template, same products", [lambda: requests.get(f"{bare}/h5/hq/mall/bare").status_code] * n, args.threads),
        run("mall list page (OAuth session, member, query, wx.config)",
            [lambda m=shoppers[i % SHOPPERS]: session_of(m).get(f"{ours}/h5/hq/mall/").status_code for i in range(n)],
            args.threads),
    ]
    forms = []
    for i in range(n):
        m = shoppers[i % SHOPPERS]
        s = requests.Session()
        s.cookies.set("session", cookie_for(app, f"obench{m:023d}"), domain="127.0.0.1")
        page = s.get(f"{ours}/h5/hq/mall/p/p{i % PRODUCTS:03d}/redeem").text
        csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        forms.append((s, f"{ours}/h5/hq/mall/p/p{i % PRODUCTS:03d}/redeem",
                      {"csrf_token": csrf, "token": secrets.token_hex(16), **ADDRESS}))
    results.append(run("redeem POST (member lock, stock update, ledger spend, order)",
                       [lambda f=f: f[0].post(f[1], data=f[2], allow_redirects=False).status_code for f in forms],
                       args.threads))
    with app.app_context():
        db = app.extensions["db"]()
        orders = db.scalar(select(func.count()).select_from(MallOrder))
        db.close()
    print(f"orders placed: {orders} of {n}", flush=True)
    ours_server.shutdown()
    bare_server.shutdown()
    return 0 if orders == n else 1


if __name__ == "__main__":
    raise SystemExit(main())
