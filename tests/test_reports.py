"""Reports (HQ's CLI with PNG charts, a store manager's 报表 in the chat): every figure checked
against the rows in the database, counted here independently of bot/reports/.

The story (China dates; the clock starts 2026-11-23 18:00): over ten days fans follow through
王导's code W and the 地推 code S of store S1 and 赵导's code Z of store S2, scan again, bind,
buy through the booking API (one buys twice), redeem in the mall, unfollow; customer-service
conversations are opened, answered and closed at S1.
"""
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import points
from bot.mall.orders import redeem
from bot.points.engine import adjust
from bot.clock import CST
from bot.commands.columns import width
from handlers.reports import CHART_COMING, NOT_MANAGER, NOT_STAFF
from models import (Conversation, Fan, Integration, LedgerEntry, MallCategory, MallOrder, Product, Purchase, QrCode,
                    QrEvent)
from models.cs import ASSIGNED, CLOSED, WAITING
from models.points import POINTS
from models.qr import CONVERTED, FOLLOW, REFOLLOW, UNFOLLOW
from tests.binding_support import bind, load_rules
from tests.points_support import SECRET, signed_post
from tests.test_qr_scans import make_code, make_staff, make_store
from tests.test_recruit_chart import images_to, manager_of

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ADDRESS = {"name": "张三", "phone": "13800138000", "region": "浙江省 杭州市 西湖区", "detail": "文三路 1 号"}


def reports(app, *args):
    result = app.test_cli_runner().invoke(args=["reports", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def story(app, db, account, phone, jobs, clock):
    s1, s2 = make_store(db, "S1", "西湖门店"), make_store(db, "S2", "灵隐门店")
    wang, zhao = make_staff(db, s1, "13900000001", "王导"), make_staff(db, s2, "13900000003", "赵导")
    codes = {"W": make_code(app, db, account, clock, store=s1, staff=wang),
             "S": make_code(app, db, account, clock, store=s1, channel="地推"),
             "Z": make_code(app, db, account, clock, store=s2, staff=zhao)}
    load_rules(app)
    db.add(Integration(name="booking", secret=SECRET))
    db.commit()
    p = {n: phone(n) for n in ("p1", "p2", "p3", "p4", "p5", "p6")}
    p["p1"].follow(codes["W"].scene)
    p["p2"].follow(codes["W"].scene)
    p["p3"].follow(codes["S"].scene)
    p["p5"].follow(codes["Z"].scene)
    p["p6"].follow()                                     # no code: not in any store's funnel
    clock.advance(days=2)
    p["p2"].scan(codes["S"].scene)                       # a scan while following credits S
    p["p4"].follow(codes["S"].scene)
    for name, number in (("p1", "13800000001"), ("p2", "13800000002"), ("p5", "13800000005")):
        bind(p[name], app, jobs, number)
    clock.advance(days=3)
    client, orders = app.test_client(), Counter()
    for name, number, amount in (("p1", "13800000001", "300.00"), ("p2", "13800000002", "120.00"),
                                 ("p1", "13800000001", "80.00"), ("p5", "13800000005", "50.00")):
        orders[name] += 1
        body = {"order_id": f"{name}-{orders[name]}", "phone": number, "amount": amount,
                "paid_at": clock.now().isoformat(), "payment_method": "cash"}
        assert signed_post(client, "/api/purchases", body, "booking", SECRET, int(clock.timestamp())).status_code == 201
        clock.advance(hours=3)
    p["p4"].unfollow()
    jobs.run_all()
    category = MallCategory(code="home", name="家居")
    db.add(category)
    db.flush()
    db.add(Product(code="mug", name="马克杯", category_id=category.id, points=5, stock=10))
    db.commit()
    member_id = db.scalar(select(Fan.member_id).where(Fan.openid == p["p1"].openid))
    with points.transaction(app) as book:
        adjust(book, member_id, 20, "开业赠送", "ops", "gift-p1")
    for token in ("t1", "t2"):
        with points.transaction(app) as book:
            redeem(book, member_id, "mug", token, ADDRESS)
    db.rollback()               # a fresh snapshot: the redemptions committed on other connections
    fans = {n: db.scalar(select(Fan).where(Fan.openid == p[n].openid)) for n in ("p3", "p1", "p2")}
    opened = clock.now()
    # (who, minutes after the first, answered after, closed after): one each closed, answered, waiting
    for name, minutes, answered, closed in (("p3", 0, 2, 15), ("p1", 30, 6, None), ("p2", 60, None, None)):
        at = opened + timedelta(minutes=minutes)
        db.add(Conversation(account_id=account.id, fan_id=fans[name].id, store_id=s1.id,
                            status=CLOSED if closed else (ASSIGNED if answered else WAITING), mode="relay",
                            opened_at=at, last_activity_at=at,
                            answered_at=at + timedelta(minutes=answered) if answered else None,
                            closed_at=at + timedelta(minutes=closed) if closed else None))
    db.commit()
    clock.advance(days=4)
    return s1, s2, codes, p


def direct_funnel(db, key_of) -> dict:
    """scans, follows, members, first purchases per key, straight from the rows (all inside the window)."""
    out: dict = {}
    db.rollback()
    code_rows = {c.id: c for c in db.scalars(select(QrCode))}
    for event in db.scalars(select(QrEvent)):
        key = key_of(code_rows.get(event.code_id))
        row = out.setdefault(key, [0, 0, 0, 0])
        row[0] += event.scanned
        row[1] += event.kind in (FOLLOW, REFOLLOW)
        row[2] += event.kind == CONVERTED
    first = {}
    for purchase in db.scalars(select(Purchase)):
        first[purchase.member_id] = min(first.get(purchase.member_id, purchase.paid_at), purchase.paid_at)
    for fan in db.scalars(select(Fan).where(Fan.member_id.in_(list(first)))):
        out.setdefault(key_of(code_rows.get(fan.source_code_id)), [0, 0, 0, 0])[3] += 1
    return out


def cells(line: str) -> list[str]:
    """A table line's cells (columns are two spaces apart or more; an empty cell shows as -)."""
    return re.split(r" {2,}", line.strip())


def starts(line: str) -> list[int]:
    """The display column each cell of a table line starts at."""
    return [width(line[:m.start(1)]) for m in re.finditer(r"(?:^| {2,})(\S)", line)]


def table(output: str) -> dict[str, list[int]]:
    rows = [cells(line) for line in output.splitlines()[2:] if len(cells(line)) == 6]
    return {r[0]: [int(x) for x in r[2:]] for r in rows}


def test_the_channel_funnel_per_code_and_per_store_matches_the_rows(app, db, story):
    s1, s2, codes, _ = story
    ARTIFACTS.mkdir(exist_ok=True)
    by_code = reports(app, "funnel", "--by", "code", "--png", str(ARTIFACTS / "report-funnel-code.png"))
    want = direct_funnel(db, lambda code: code.scene if code else "-")
    assert table(by_code) == {k: v for k, v in want.items()}
    assert table(by_code)[codes["W"].scene] == [2, 2, 2, 2]     # p1, p2 followed, bound and bought
    assert table(by_code)[codes["S"].scene] == [3, 2, 0, 0]     # p3, p4 followed; p2's scan
    # Chinese labels take two columns each: every column starts at one display column.
    lines = by_code.splitlines()[1:len(want) + 2]
    assert len({tuple(starts(line)) for line in lines}) == 1, lines
    by_store = reports(app, "funnel", "--by", "store", "--png", str(ARTIFACTS / "report-funnel-store.png"))
    stores = {s1.id: "S1", s2.id: "S2"}
    assert table(by_store) == direct_funnel(db, lambda code: stores.get(code.store_id, "-") if code else "-")
    only_s1 = reports(app, "funnel", "--by", "code", "--store", "S1")
    assert set(table(only_s1)) == {codes["W"].scene, codes["S"].scene}
    png = (ARTIFACTS / "report-funnel-code.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000


def monthly(output: str) -> dict[str, list[int]]:
    rows = [cells(line) for line in output.splitlines() if line[:2] == "20"]
    return {r[0]: [int(x) for x in r[1:]] for r in rows}


def test_points_mall_and_customer_service_figures_match_the_rows(app, db, story):
    ARTIFACTS.mkdir(exist_ok=True)
    out = reports(app, "points", "--png", str(ARTIFACTS / "report-points.png"))
    want = Counter()
    for e in db.scalars(select(LedgerEntry).where(LedgerEntry.ledger == POINTS)):
        month = e.created_at.astimezone(CST).strftime("%Y-%m")
        want[(month, e.kind)] += abs(e.delta)
    months = sorted({m for m, _ in want})
    assert monthly(out) == {
        m: [want[(m, "earn")], want[(m, "spend")], want[(m, "expire")]] for m in months}
    assert sum(want[(m, "spend")] for m in months) == 10          # two mugs of 5 points
    mall = reports(app, "mall", "--png", str(ARTIFACTS / "report-mall.png"))
    orders = list(db.scalars(select(MallOrder)))
    month = orders[0].created_at.astimezone(CST).strftime("%Y-%m")
    assert monthly(mall) == {month: [len(orders), sum(o.points for o in orders)]} and len(orders) == 2
    cs = reports(app, "cs")
    rows = list(db.scalars(select(Conversation)))
    assert f"{len(rows)} opened, 2 answered, 1 closed" in cs
    assert "first response (min): median 4.0 mean 4.0" in cs        # 2 and 6 minutes
    assert "resolution (min): median 15.0 mean 15.0" in cs
    assert "no survey links sent or completed in this period" in reports(app, "surveys")


def test_the_follower_trend_walks_back_from_todays_followers(app, db, account, story, clock):
    out = reports(app, "followers", "--account", "hq", "--days", "12", "--png", str(ARTIFACTS / "report-followers.png"))
    rows = [cells(line) for line in out.splitlines()[1:] if len(cells(line)) == 4]
    assert len(rows) == 12
    following = sum(1 for f in db.scalars(select(Fan).where(Fan.account_id == account.id)) if f.following)
    assert int(rows[-1][3]) == following
    per_day = Counter()
    for e in db.scalars(select(QrEvent)):
        per_day[(str(e.at.astimezone(CST).date()), e.kind == UNFOLLOW)] += e.kind in (FOLLOW, REFOLLOW, UNFOLLOW)
    for day, follows, unfollows, _ in rows:
        assert (int(follows), int(unfollows)) == (per_day[(day, False)], per_day[(day, True)]), day
    assert int(rows[0][3]) == following - sum(int(r[1]) - int(r[2]) for r in rows[1:])
    assert int(rows[0][3]) >= 0


def test_a_store_manager_gets_the_report_in_the_chat(app, db, phone, jobs, world, story, clock):
    s1, _, codes, p = story
    boss = manager_of(app, db, phone, jobs, s1)
    answer = boss.text("报表")
    want = direct_funnel(db, lambda code: code.store_id if code else None)[s1.id]
    assert f"扫码 {want[0]} → 关注 {want[1]} → 会员 {want[2]} → 首购 {want[3]}" in answer
    assert "客服：3 个会话，首次响应中位 4 分钟，解决中位 15 分钟" in answer
    assert answer.endswith(CHART_COMING)
    jobs.run_all()
    assert len(images_to(world, boss)) == 1
    assert CHART_COMING not in boss.text("报表")                 # within a minute: the text only
    assert p["p3"].text("报表") == NOT_STAFF
    db.rollback()
    guide = manager_of(app, db, phone, jobs, s1, number="13700000002", roles="guide")
    assert guide.text("报表") == NOT_MANAGER
