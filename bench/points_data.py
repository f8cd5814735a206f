"""The points benchmark's data: a fresh schema, members in bulk, a member's history, and the
units of work it times (bench/points.py)."""
import logging
import random
import time
from datetime import date, timedelta
from types import SimpleNamespace

from sqlalchemy import create_engine, func, insert, select, text, update
from sqlalchemy.engine import make_url

from bench.servers import ACCOUNT, OUT, ROOT, BenchError
from bot import create_app, points
from bot.clock import CST
from bot.points.engine import fire, spend
from bot.points.ledger import Book
from bot.points.policy import current_policy, load
from bot.points.purchases import record_purchase
from bot.points.rules_file import parse
from bot.sandbox.phone import Phone, sandbox_openid
from models import Account, KeywordReply, LedgerEntry, Member, PointsLot
from models.keyword import EXACT
from models.migrate import upgrade
from models.points import ADJUST, EARN, GROWTH, POINTS

RULES = ROOT / "bot" / "points" / "rules.example.yaml"
PAYMENTS = ("wechat", "alipay", "card", "cash")
KEYWORD, KEYWORD_REPLY = "营业时间", "营业时间：每天 9:00–21:00，节假日照常营业。"
# An account has tens of keywords (handlers/keywords.py reads them all in one query).
OTHER_KEYWORDS = [(f"关键词{i}", f"自动回复 {i}") for i in range(24)]


def fresh_schema(url: str) -> float:
    """CREATE DATABASE if missing, drop and recreate schema public, migrate; seconds taken."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise BenchError(f"--database-url must be a PostgreSQL URL, not {parsed.drivername}")
    t0 = time.perf_counter()
    admin = create_engine(parsed.set(drivername="postgresql+psycopg", database="postgres"),
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": parsed.database}):
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    except Exception as exc:   # connection refused, auth...: say which server
        raise BenchError(f"PostgreSQL at {parsed.render_as_string()} is not usable: {exc}") from exc
    finally:
        admin.dispose()
    engine = create_engine(parsed.set(drivername="postgresql+psycopg"))
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(engine)
    finally:
        engine.dispose()
    return time.perf_counter() - t0


def make_app(args):
    """The real app on the benchmark's database and Redis, wall clock, jobs queued to rq."""
    OUT.mkdir(exist_ok=True)
    log = logging.FileHandler(OUT / "points.log", mode="w", encoding="utf-8")
    log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[log])   # before create_app's basicConfig
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return create_app({"DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url, "SANDBOX": True,
                       "JOBS_INLINE": False, "SECRET_KEY": "bench-only-secret"})


def seed(app, members: int, history: int, skip: int) -> float:
    """The account, the rules, keywords, and `members` members with one following fan each and
    about `history` points entries and lots each from the last year (COPY; `skip` gets none);
    seconds the members took."""
    now = app.extensions["clock"].now()
    with points.transaction(app) as book:
        account = Account(**ACCOUNT, verified=True, name="Benchmark")
        book.db.add(account)
        load(book.db, parse(RULES.read_text(encoding="utf-8")))
        book.db.flush()
        book.db.execute(insert(KeywordReply), [
            dict(account_id=account.id, keyword=k, match=EXACT, reply=r, created_at=now)
            for k, r in [*OTHER_KEYWORDS, (KEYWORD, KEYWORD_REPLY)]])
    with app.extensions["db"]() as db:
        policy = current_policy(db)
    rng = random.Random(1)
    t0 = time.perf_counter()
    past = past_entries(rng, members, history, skip, now)
    with app.extensions["engine"].begin() as conn:
        cur = conn.connection.driver_connection.cursor()
        with cur.copy("COPY member (phone, name, birthday, points, growth, level, level_since, created_at) "
                      "FROM STDIN") as copy:
            for i in range(members):
                copy.write_row((f"139{i:08d}", f"会员{i}", date(1960, 1, 1) + timedelta(days=rng.randrange(16000)),
                                sum(delta for _, delta, _ in past.get(i + 1, ())), 0, "registered", now, now))
        with cur.copy("COPY fan (account_id, openid, following, followed_at, follow_count, member_id, "
                      "created_at) FROM STDIN") as copy:
            for member_id in range(1, members + 1):     # a fresh schema: ids 1..members
                copy.write_row((account.id, fan_openid(member_id), True, now, 1, member_id, now))
        with cur.copy("COPY ledger_entry (key, member_id, ledger, delta, balance, kind, source_type, source_id, "
                      "reason, created_at) FROM STDIN") as copy:
            for member_id, rows in past.items():
                balance = 0
                for key, delta, at in rows:
                    balance += delta
                    copy.write_row((key, member_id, POINTS, delta, balance, EARN, "history", key, "往期活动奖励", at))
        entries = cur.execute("SELECT id, member_id, delta, created_at FROM ledger_entry ORDER BY id").fetchall()
        with cur.copy("COPY points_lot (entry_id, member_id, amount, remaining, earned_at, expires_at) "
                      "FROM STDIN") as copy:
            for entry_id, member_id, delta, at in entries:
                copy.write_row((entry_id, member_id, delta, delta, at, policy.expires_at(at)))
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - t0


def past_entries(rng: random.Random, members: int, history: int, skip: int, now) -> dict[int, list]:
    """member id: [(key, points, earned at)], oldest first: 0 to 2 x `history` earnings each, on
    days of the last year (the lots a year of operation leaves; under the example's end_of_year
    expiry, all of one year's lots expire at the same instant)."""
    past = {}
    for member_id in range(1, members + 1):
        if member_id == skip or not history:
            continue
        days = sorted(rng.uniform(30, 395) for _ in range(rng.randint(0, 2 * history)))
        past[member_id] = [(f"history:{member_id}:{j}", rng.choice((2, 10, 20, 50)), now - timedelta(days=d))
                           for j, d in enumerate(reversed(days))]
    return past


def fan_openid(member_id: int) -> str:
    return sandbox_openid(ACCOUNT["slug"], f"member{member_id}")


def random_member(rng: random.Random, members: int, skip: int) -> int:
    """A member id from 1..members other than `skip` (the 积分 member keeps its own history)."""
    member_id = rng.randint(1, members - 1)
    return member_id if member_id < skip else member_id + 1


def member_phone(member_id: int) -> Phone:
    """The member's fan as WeChat sends their pushes: safe mode (AES), signed."""
    return Phone(None, SimpleNamespace(**ACCOUNT), fan_openid(member_id), mode="safe")


def wrap(phone: Phone, content: str, msg_id: int) -> tuple[dict, bytes]:
    """(query, body) of a text push with this MsgId."""
    return phone.wrap(phone.xml({"MsgType": "text", "Content": content, "MsgId": msg_id}))


def award_once(app, rng: random.Random, member_id: int, n: int) -> None:
    """One business event of a random kind, in its own transaction, through the real engine."""
    roll = rng.random()
    with points.transaction(app) as book:
        if roll < 0.5:
            record_purchase(book, order_id=f"B{n:08d}", member_id=member_id,
                            amount_fen=rng.randrange(2_000, 200_000, 100), paid_at=book.now,
                            payment_method=rng.choice(PAYMENTS), source="bench")
        elif roll < 0.8:
            fire(book, member_id, "sign_in", "sign_in", book.now.astimezone(CST).date().isoformat())
        else:
            fire(book, member_id, "survey_complete", "survey", f"S{n:08d}")


def bare_write(app, member_id: int, n: int) -> None:
    """The least a ledger write can be: one transaction, one balance incremented SQL-side, one
    ledger row inserted (a growth adjust of +1: growth has no lots, so the ledger stays whole)."""
    db = app.extensions["db"]()
    try:
        with db.begin():
            balance = db.execute(update(Member).where(Member.id == member_id)
                                 .values(growth=Member.growth + 1).returning(Member.growth)).scalar_one()
            db.execute(insert(LedgerEntry).values(
                key=f"bench:{n}", member_id=member_id, ledger=GROWTH, delta=1, balance=balance, kind=ADJUST,
                source_type="bench", source_id=str(n), reason="基准测试", actor="bench",
                created_at=app.extensions["clock"].now()))
    finally:
        db.close()


def entry_counts(app) -> dict:
    with app.extensions["db"]() as db:
        rows = dict(db.execute(select(LedgerEntry.ledger, func.count()).where(LedgerEntry.source_type != "bench")
                               .group_by(LedgerEntry.ledger)).all())
        bare = db.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.source_type == "bench"))
    return {"points": rows.get(POINTS, 0), "growth": rows.get(GROWTH, 0), "bare": bare}


def give_history(app, member_id: int, rows: int, rng: random.Random) -> dict:
    """`rows` ledger rows for one member, written by the engine as they would have come: a
    sign-in every day, a survey every other day, a purchase every third, a mall spend every
    tenth, each in its own transaction at its own time, the days planned back from yesterday so
    the history ends about now (about 440 days: no lot has expired yet; the winter bonus's extra
    rows end it a few days early). Notices are not delivered: history, not news (and no
    pending messages join the timed replies)."""
    Session = app.extensions["db"]
    now = app.extensions["clock"].now()
    plan, expected, back = [], 2, 1                  # 2: the bind award's points and growth
    while expected < rows:
        day = now - timedelta(days=back)
        actions = ["sign_in"] + ["survey"] * (back % 2 == 0) + ["purchase"] * (back % 3 == 0) \
            + ["spend"] * (back % 10 == 0)
        expected += sum(2 if a == "purchase" else 1 for a in actions)   # purchase: points, growth
        plan[:0] = [(day.replace(hour=rng.randrange(0, 12), minute=rng.randrange(60)) + timedelta(minutes=i), a)
                    for i, a in enumerate(actions)]
        back += 1
    count = lambda db: db.scalar(select(func.count()).select_from(LedgerEntry)    # noqa: E731
                                 .where(LedgerEntry.member_id == member_id))
    with Session() as db, db.begin():
        fire(Book(db, plan[0][0] - timedelta(hours=1)), member_id, "bind", "member", member_id)
    # Then the plan; surveys (one row each) earlier today make up any shortfall.
    topup = [(now - timedelta(seconds=rows - k), "survey") for k in range(rows)]
    for n, (at, action) in enumerate(plan + topup):
        with Session() as db, db.begin():
            left = rows - count(db)
            if left <= 0:
                break
            book = Book(db, at)
            if action == "purchase" and left >= 3:
                record_purchase(book, order_id=f"H{member_id}-{n}", member_id=member_id,
                                amount_fen=rng.randrange(5_000, 80_000, 100), paid_at=at,
                                payment_method=rng.choice(PAYMENTS), source="bench")
            elif action == "spend" and book.lock(member_id).points >= 50:
                spend(book, member_id, rng.randrange(20, 50), "mall", f"M{member_id}-{n}", "积分商城兑换")
            elif action == "sign_in":
                fire(book, member_id, "sign_in", "sign_in", at.astimezone(CST).date().isoformat())
            else:
                fire(book, member_id, "survey_complete", "survey", f"H{member_id}-{n}")
    with Session() as db:
        member = db.get(Member, member_id)
        by_ledger = dict(db.execute(select(LedgerEntry.ledger, func.count())
                                    .where(LedgerEntry.member_id == member_id).group_by(LedgerEntry.ledger)).all())
        lots = db.scalar(select(func.count()).select_from(PointsLot).where(PointsLot.member_id == member_id))
        open_lots = db.scalar(select(func.count()).select_from(PointsLot)
                              .where(PointsLot.member_id == member_id, PointsLot.remaining > 0))
        first = db.scalar(select(func.min(LedgerEntry.created_at)).where(LedgerEntry.member_id == member_id))
        return dict(member_id=member_id, ledger_rows=sum(by_ledger.values()), points_rows=by_ledger.get(POINTS, 0),
                    growth_rows=by_ledger.get(GROWTH, 0), lots=lots, open_lots=open_lots,
                    days=(now - first).days, points=member.points, growth=member.growth, level=member.level)


def ledger_problems(app) -> int:
    """Members whose balances disagree with their ledgers or lots after the run (the
    ledger's invariants: points = sum of points entries = sum of open lots, growth = sum of growth entries)."""
    with app.extensions["engine"].connect() as conn:
        return conn.scalar(text("""
            SELECT count(*) FROM member m
            LEFT JOIN (SELECT member_id, sum(delta) FILTER (WHERE ledger = 'points') AS points,
                              sum(delta) FILTER (WHERE ledger = 'growth') AS growth
                       FROM ledger_entry GROUP BY member_id) e ON e.member_id = m.id
            LEFT JOIN (SELECT member_id, sum(remaining) AS remaining FROM points_lot GROUP BY member_id) l
                   ON l.member_id = m.id
            WHERE m.points <> coalesce(e.points, 0) OR m.growth <> coalesce(e.growth, 0)
               OR m.points <> coalesce(l.remaining, 0)"""))

