"""Redemptions never oversell and never go wrong on points: members racing for the last items,
one member's double submit and two tabs, the per-member limit, a retried cancel. Each worker
has its own transaction (bot/points `transaction`); on PostgreSQL they meet on the member row
lock and the guarded stock UPDATE, on SQLite on its write lock."""
import concurrency_support
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from bot import points
from bot.mall.orders import Refused, cancel, order_for, redeem, ship
from bot.points.engine import adjust
from models import LedgerEntry, MallCategory, MallOrder, Member, Product, VirtualCode
from models.mall import CANCELLED, VIRTUAL
from models.points import POINTS

ADDRESS = {"name": "张三", "phone": "13800138000", "region": "浙江省 杭州市 西湖区", "detail": "文三路 1 号"}


@pytest.fixture
def run(app):
    def go(action, *args, **kwargs):
        with points.transaction(app) as book:
            return action(book, *args, **kwargs)
    return go


@pytest.fixture
def shop(db):
    def make(code="mug", points_=100, stock=5, **extra):
        category = db.scalar(select(MallCategory)) or MallCategory(code="home", name="家居")
        db.add(category)
        db.flush()
        product = Product(code=code, name=f"商品{code}", category_id=category.id, points=points_,
                          stock=stock, **extra)
        db.add(product)
        db.commit()
        return product.id
    return make


def members(db, run, count, balance):
    ids = []
    for n in range(count):
        member = Member(phone=f"1390000{n:04d}", level="registered")
        db.add(member)
        db.commit()
        ids.append(member.id)
        run(adjust, member.id, balance, "开业赠送", "ops", f"gift-{member.id}")
    return ids


def ledger_matches(db, member_id) -> bool:
    db.rollback()
    total = db.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
        LedgerEntry.member_id == member_id, LedgerEntry.ledger == POINTS))
    return db.get(Member, member_id).points == total >= 0


def at_once(actions):
    return concurrency_support.at_once(actions, (Refused,))


def test_twenty_members_racing_for_the_last_five_make_exactly_five_orders(db, run, shop):
    product = shop(stock=5)
    ids = members(db, run, 20, 300)
    outcomes = at_once([lambda m=m: run(redeem, m, "mug", f"tok-{m}", ADDRESS) for m in ids])
    placed = [o for o in outcomes if isinstance(o, MallOrder)]
    refused = [o for o in outcomes if isinstance(o, Refused)]
    assert len(placed) == 5 and len(refused) == 15
    assert all("已兑完" in str(r) for r in refused)
    db.rollback()
    row = db.get(Product, product)
    assert (row.stock, row.sold) == (0, 5)
    assert db.scalar(select(func.count()).select_from(MallOrder)) == 5
    winners = {o.member_id for o in placed}
    for m in ids:
        assert ledger_matches(db, m)
        assert db.get(Member, m).points == (200 if m in winners else 300)


def test_one_member_submitting_twice_at_once_and_from_two_tabs_makes_one_order(db, run, shop):
    shop(stock=10)
    [m] = members(db, run, 1, 1000)
    same_token = at_once([lambda: run(redeem, m, "mug", "tab-A", ADDRESS) for _ in range(4)])
    assert len({o.id for o in same_token}) == 1
    # The second tab holds the same page's token: its submit finds the order of the first.
    again = run(redeem, m, "mug", "tab-A", ADDRESS)
    assert again.id == same_token[0].id
    db.rollback()
    assert db.scalar(select(func.count()).select_from(MallOrder)) == 1
    assert db.get(Member, m).points == 900 and ledger_matches(db, m)


def test_the_per_member_limit_holds_under_concurrency(db, run, shop):
    product = shop(stock=10, limit_per_member=2)
    [m] = members(db, run, 1, 1000)
    outcomes = at_once([lambda n=n: run(redeem, m, "mug", f"t{n}", ADDRESS) for n in range(6)])
    assert sum(isinstance(o, MallOrder) for o in outcomes) == 2
    assert all("限兑 2" in str(o) for o in outcomes if isinstance(o, Refused))
    db.rollback()
    assert db.get(Product, product).stock == 8
    assert db.get(Member, m).points == 800 and ledger_matches(db, m)


def test_a_cancel_retried_at_once_refunds_once_and_gives_the_stock_back_once(db, run, shop):
    product = shop(stock=3)
    [m] = members(db, run, 1, 500)
    order = run(redeem, m, "mug", "t1", ADDRESS)
    at_once([lambda: run(cancel, order.id, "缺货") for _ in range(4)])
    run(cancel, order.id, "缺货")
    db.rollback()
    assert db.get(MallOrder, order.id).status == CANCELLED
    assert db.get(Product, product).stock == 3 and db.get(Product, product).sold == 0
    assert db.get(Member, m).points == 500 and ledger_matches(db, m)


def test_refusals_lose_nothing(db, run, shop):
    shop(points_=600, stock=2, levels=["gold"])
    shop(code="cheap", points_=50, stock=1)
    [m] = members(db, run, 1, 100)
    with pytest.raises(Refused, match="等级"):
        run(redeem, m, "mug", "a", ADDRESS)
    with pytest.raises(Refused, match="收货信息"):
        run(redeem, m, "cheap", "b", {"name": "张三"})
    run(redeem, m, "cheap", "c", ADDRESS)
    with pytest.raises(Refused, match="已兑完"):
        run(redeem, m, "cheap", "d", ADDRESS)
    db.rollback()
    assert db.get(Member, m).points == 50 and ledger_matches(db, m)


def test_not_enough_points_is_refused_and_the_stock_stays(db, run, shop):
    product = shop(points_=500, stock=1)
    [m] = members(db, run, 1, 100)
    with pytest.raises(Refused, match="积分不足：需要 500，当前 100"):
        run(redeem, m, "mug", "x", ADDRESS)
    db.rollback()
    assert db.get(Product, product).stock == 1
    assert db.scalar(select(func.count()).select_from(MallOrder)) == 0


def test_a_virtual_product_gives_a_code_at_once_and_another_members_order_is_unknown(db, run, shop):
    product = shop(code="coupon", kind=VIRTUAL, stock=2)
    db.add_all([VirtualCode(product_id=product, code="VC-001"), VirtualCode(product_id=product, code="VC-002")])
    db.commit()
    first, other = members(db, run, 2, 300)
    order = run(redeem, first, "coupon", "v1", None)
    assert order.virtual_code == "VC-001"
    db.rollback()
    assert order_for(db, first, order.id).virtual_code == "VC-001"
    assert order_for(db, other, order.id) is None
    with pytest.raises(Refused, match="无需发货"):
        run(ship, order.id, "SF1", "顺丰")


def test_shipping_tells_the_member_the_tracking_number(db, run, shop, app):
    shop(stock=1)
    [m] = members(db, run, 1, 300)
    order = run(redeem, m, "mug", "s1", ADDRESS)
    shipped = run(ship, order.id, "SF123", "顺丰")
    assert (shipped.status, shipped.tracking, shipped.carrier) == ("shipped", "SF123", "顺丰")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(["redeem", "cancel"]), st.integers(0, 2),
                                st.integers(0, 3)), min_size=1, max_size=12))
def test_stock_and_points_invariants_hold_for_any_sequence(app, db, run, steps):
    """Whatever members redeem and cancel: stock + sold is what was loaded, stock never below
    zero, sold equals the orders not cancelled, every balance equals its ledger."""
    from tests.conftest import empty_tables
    db.rollback()
    db.expunge_all()        # each example starts from empty tables, ids counted afresh
    empty_tables(app.extensions["engine"])
    category = MallCategory(code="c", name="类")
    db.add(category)
    db.flush()
    product = Product(code="p", name="P", category_id=category.id, points=120, stock=3)
    db.add(product)
    db.commit()
    ids = members(db, run, 3, 300)
    placed: list[int] = []
    for n, (action, who, pick) in enumerate(steps):
        try:
            if action == "redeem":
                placed.append(run(redeem, ids[who], "p", f"k{n}", ADDRESS).id)
            elif placed:
                run(cancel, placed[pick % len(placed)], "测试")
        except Refused:
            pass
    db.rollback()
    row = db.scalar(select(Product).execution_options(populate_existing=True))
    live = db.scalar(select(func.count()).select_from(MallOrder).where(MallOrder.status != CANCELLED))
    assert row.stock >= 0 and row.stock + row.sold == 3 and row.sold == live
    for m in ids:
        assert ledger_matches(db, m)
        spent = db.scalar(select(func.coalesce(func.sum(MallOrder.points), 0)).where(
            MallOrder.member_id == m, MallOrder.status != CANCELLED))
        assert db.get(Member, m).points == 300 - spent
