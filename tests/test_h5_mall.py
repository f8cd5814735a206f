"""The points mall's pages as a member's phone uses them: browse and filter, open a product,
redeem with a new or a saved address, see the order and the points history; a virtual product's
code on the order page and in the chat; refusals that say what to do next."""
import re
import string

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from bot import points
from bot.mall.orders import ship
from bot.phones import normalize
from bot.points.engine import adjust
from binding_support import bind, load_rules
from h5_support import Browser
from models import LedgerEntry, MallCategory, MallOrder, Member, Product, VirtualCode
from models.mall import VIRTUAL
from models.points import POINTS

MALL = "/h5/hq/mall/"
ADDRESS = {"saved": "new", "name": "张三", "phone": "13900001111", "region": "浙江省 杭州市 西湖区",
           "detail": "文三路 1 号"}


@pytest.fixture(autouse=True)
def rules(app):
    load_rules(app)


@pytest.fixture
def shop(db):
    home, card = MallCategory(code="home", name="家居", position=1), MallCategory(code="card", name="卡券", position=2)
    db.add_all([home, card])
    db.flush()
    db.add_all([
        Product(code="mug", name="保温杯", category_id=home.id, points=300, stock=5),
        Product(code="towel", name="毛巾", category_id=home.id, points=80, stock=5),
        Product(code="lamp", name="台灯", category_id=home.id, points=5000, stock=2),
        Product(code="coffee", name="咖啡券", category_id=card.id, points=50, stock=1, kind=VIRTUAL),
    ])
    db.flush()
    db.add(VirtualCode(product_id=db.scalar(select(Product.id).where(Product.code == "coffee")), code="CAFE-7788"))
    db.commit()


def member(app, person, jobs, phone, balance):
    """A follower who binds `phone`, then has exactly `balance` points; their browser."""
    person.follow()
    bind(person, app, jobs, phone)
    jobs.run_all()
    with points.transaction(app) as book:
        m = book.db.scalar(select(Member).where(Member.phone == phone))
        adjust(book, m.id, balance - m.points, "开业赠送", "ops", f"gift-{m.id}")
    jobs.run_all()
    return Browser(app, person.openid)


def codes_listed(browser) -> list[str]:
    return re.findall(r'data-code="([^"]+)"', browser.text())


def redeem(browser, code, address=ADDRESS):
    """Product page → 立即兑换 → address → confirm: the confirm page's response."""
    browser.get(f"{MALL}p/{code}/redeem")
    token = re.search(r'name="token" value="([0-9a-f]{32})"', browser.text()).group(1)
    return browser.post(f"{MALL}p/{code}/confirm", {"token": token, **address}), token


def confirm(browser, code, page: str | None = None):
    """Tap 确认兑换 on the confirm page (the one shown last, or `page`)."""
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page or browser.text()))
    return browser.post(f"{MALL}p/{code}/redeem", form, csrf=False)


def test_browse_filter_open_redeem_with_a_new_address_then_see_the_order_and_the_history(app, wx, jobs, shop, db):
    browser = member(app, wx, jobs, "13812345678", 400)
    browser.get(MALL)
    assert codes_listed(browser) == ["coffee", "towel", "mug", "lamp"]      # cheapest first
    assert 'id="balance">400<' in browser.text()
    browser.get(MALL + "?category=card")
    assert codes_listed(browser) == ["coffee"]
    browser.get(MALL + "?affordable=1")
    assert codes_listed(browser) == ["coffee", "towel", "mug"]               # 我能兑换
    browser.get(MALL + "?min=60&max=400")
    assert codes_listed(browser) == ["towel", "mug"]
    browser.get(MALL + "p/mug")
    assert "保温杯" in browser.text() and "300 积分" in browser.text() and "立即兑换" in browser.text()

    page, _token = redeem(browser, "mug")
    assert page.status_code == 200 and "确认兑换" in browser.text() and "139****1111" in browser.text()
    shown = browser.text().split('id="confirm"')[1].split("</div>\n<form")[0]
    assert "13900001111" not in shown                                        # masked on screen
    done = confirm(browser, "mug")
    assert done.status_code == 200 and "兑换成功" in browser.text() and "待发货" in browser.text()

    order = db.scalar(select(MallOrder))
    assert order.address == {k: v for k, v in ADDRESS.items() if k != "saved"}
    assert db.get(Member, order.member_id).points == 100
    browser.get(MALL + "orders")
    assert f'data-order="{order.id}"' in browser.text() and "保温杯" in browser.text()
    browser.get(MALL + "points")
    assert "积分商城兑换：保温杯" in browser.text() and "-300" in browser.text()

    with points.transaction(app) as book:
        ship(book, order.id, "SF1234567", "顺丰")
    browser.get(f"{MALL}orders/{order.id}")
    assert "已发货" in browser.text() and "顺丰 SF1234567" in browser.text()


def test_the_second_redemption_offers_the_saved_address(app, wx, jobs, shop, db):
    browser = member(app, wx, jobs, "13812345678", 1000)
    redeem(browser, "towel")
    confirm(browser, "towel")
    browser.get(f"{MALL}p/mug/redeem")
    first_order = db.scalar(select(MallOrder.id))
    assert f'name="saved" value="{first_order}" checked' in browser.text()
    token = re.search(r'name="token" value="([0-9a-f]{32})"', browser.text()).group(1)
    browser.post(f"{MALL}p/mug/confirm", {"token": token, "saved": str(first_order)})
    assert "张三 139****1111" in browser.text()
    confirm(browser, "mug")
    db.rollback()
    addresses = [o.address for o in db.scalars(select(MallOrder).order_by(MallOrder.id))]
    assert addresses[0] == addresses[1]


def test_a_double_tap_on_confirm_makes_one_order(app, wx, jobs, shop, db):
    browser = member(app, wx, jobs, "13812345678", 1000)
    redeem(browser, "mug")
    confirm_page = browser.text()
    confirm(browser, "mug")
    confirm(browser, "mug", confirm_page)                # the same confirm page, tapped again
    assert "兑换成功" in browser.text()
    db.rollback()
    assert db.scalar(select(func.count()).select_from(MallOrder)) == 1
    assert db.scalar(select(Member.points)) == 700


@pytest.mark.parametrize("change, says", [
    ({"phone": "12345"}, "手机号格式不对"),
    ({"detail": ""}, "请填写完整的收货信息"),
])
def test_a_bad_address_is_asked_again_with_what_was_typed(app, wx, jobs, shop, db, change, says):
    browser = member(app, wx, jobs, "13812345678", 1000)
    page, _ = redeem(browser, "mug", {**ADDRESS, **change})
    assert page.status_code == 400 and says in browser.text() and "张三" in browser.text()
    db.rollback()
    assert db.scalar(select(func.count()).select_from(MallOrder)) == 0


def test_a_virtual_product_shows_its_code_on_the_order_page_and_in_the_chat(app, wx, jobs, shop, world):
    browser = member(app, wx, jobs, "13812345678", 100)
    browser.get(f"{MALL}p/coffee/redeem")
    assert "无需收货地址" in browser.text() and 'name="name"' not in browser.text()
    token = re.search(r'name="token" value="([0-9a-f]{32})"', browser.text()).group(1)
    browser.post(f"{MALL}p/coffee/confirm", {"token": token})
    confirm(browser, "coffee")
    assert 'id="virtual-code">CAFE-7788<' in browser.text() and "已发放" in browser.text()
    jobs.run_all()
    told = [m.get("content") or "" for m in world.messages_to(wx.account.appid, wx.openid)]
    assert any("券码 CAFE-7788" in t for t in told)


def test_not_enough_points_is_refused_with_what_is_missing(app, wx, jobs, shop, db):
    browser = member(app, wx, jobs, "13812345678", 100)
    browser.get(MALL + "p/mug")
    assert "积分不足（还差 200）" in browser.text() and 'id="redeem"' not in browser.text()
    page, _ = redeem(browser, "mug")
    answer = confirm(browser, "mug")
    assert answer.status_code == 409 and "积分不足：需要 300，当前 100" in browser.text()
    db.rollback()
    assert db.scalar(select(Product.stock).where(Product.code == "mug")) == 5


def test_another_members_order_is_not_found(app, phone, jobs, shop, db):
    alice = member(app, phone("alice"), jobs, "13812345678", 1000)
    redeem(alice, "mug")
    confirm(alice, "mug")
    order_id = db.scalar(select(MallOrder.id))
    bob = member(app, phone("bob"), jobs, "13812345679", 1000)
    answer = bob.get(f"{MALL}orders/{order_id}")
    assert answer.status_code == 404 and "没有找到" in bob.text() and "保温杯" not in bob.text()
    assert alice.get(f"{MALL}orders/{order_id}").status_code == 200


def test_an_unknown_product_is_not_found(app, wx, jobs, shop):
    browser = member(app, wx, jobs, "13812345678", 100)
    assert browser.get(MALL + "p/nothing").status_code == 404
    assert "回到积分商城" in browser.text()


# --- fuzzing the forms -----------------------------------------------------------------------
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FIELD = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "张三", "<script>", "'; DROP TABLE x;--"]),
                  st.sampled_from(["长", "a"]).map(lambda c: c * 300))
PHONE = st.one_of(FIELD, st.sampled_from(["13900001111", "139 0000 1111", "+86 139-0000-1111", "23900001111",
                                          "1390000111", "１３９００００１１１１"]))
TOKEN = st.one_of(st.text(string.hexdigits.lower(), min_size=32, max_size=32), st.text(max_size=40))
FORM = st.fixed_dictionaries({"token": TOKEN, "name": FIELD, "phone": PHONE, "region": FIELD, "detail": FIELD},
                             optional={"saved": st.one_of(st.text(max_size=6), st.integers(-5, 10**12).map(str))})


def valid(form: dict) -> bool:
    fields = [form.get(f, "").strip() for f in ("name", "phone", "region", "detail")]
    return len(form["token"]) == 32 and all(fields) and normalize(form["phone"].strip()[:128]) is not None


def balanced(db, member_id: int) -> bool:
    db.rollback()
    total = db.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
        LedgerEntry.member_id == member_id, LedgerEntry.ledger == POINTS))
    return db.get(Member, member_id).points == total >= 0


def test_fuzzed_redeem_forms_never_fail_and_store_only_valid_orders(app, wx, jobs, shop, db):
    """Fuzzing the mall's POSTs as a broken client or a forger could send them (hypothesis): any
    token, any address fields, any saved-address choice, on the confirm and on the final redeem.
    Never a 500; an order is stored only from a form that names a valid address (every field, an
    11-digit mainland phone) and a 32-character submit token, and each valid form is answered with
    its order; the member's points always equal their ledger."""
    browser = member(app, wx, jobs, "13900001111", 10**9)
    member_id = db.scalar(select(Member.id).where(Member.phone == "13900001111"))
    browser.get(f"{MALL}p/towel/redeem")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.text()).group(1)

    placed = set()

    @FUZZ
    @given(form=FORM, step=st.sampled_from(["confirm", "redeem"]))
    def one(form, step):
        before = db.scalar(select(func.count()).select_from(MallOrder))
        response = browser.client.post(f"{MALL}p/towel/{step}", data={**form, "csrf_token": csrf})
        assert response.status_code < 500, response.get_data(as_text=True)[:300]
        db.rollback()
        stored = db.scalars(select(MallOrder).where(MallOrder.submit_token.like(f"%:{form['token']}"))).all() \
            if len(form["token"]) == 32 else []
        made = db.scalar(select(func.count()).select_from(MallOrder)) - before
        if step == "confirm":
            assert made == 0                                  # the confirm page writes nothing
        elif form["token"] in placed:
            assert made == 0 and response.status_code == 303  # a resubmitted form: its first order
        elif valid(form):
            assert response.status_code == 303 and len(stored) == 1   # answered with its one order
            assert normalize(stored[0].address["phone"]) == stored[0].address["phone"]
            placed.add(form["token"])
        else:
            assert made == 0 and response.status_code in (400, 409), response.status_code
        assert balanced(db, member_id)
    one()
