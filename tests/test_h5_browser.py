"""The points mall in a real browser: Debian's headless Chromium at 375x812 with WeChat's user
agent and a stubbed jweixin, against the test app served over HTTP (the sandbox's authorize
page plays WeChat's). A member browses, filters, opens a product, redeems with a new address,
sees the order and the history; a virtual product shows its code; an unbound fan gets the page
that sends them to the chat, and the chat prompt. Screenshots go to tests/artifacts/."""
import re

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from binding_support import bind, load_rules
from bot import points
from bot.points.engine import adjust
from h5_browser_support import ARGS, ARTIFACTS, CHROMIUM, phone_page, sign_in
from models import MallCategory, Member, Product, VirtualCode
from models.mall import VIRTUAL

pytestmark = pytest.mark.served     # conftest's app, served over HTTP at its public address


@pytest.fixture
def shop(app, db):
    load_rules(app)
    home, card = MallCategory(code="home", name="家居", position=1), MallCategory(code="card", name="卡券", position=2)
    db.add_all([home, card])
    db.flush()
    db.add_all([Product(code="mug", name="保温杯", category_id=home.id, points=300, stock=5,
                        description="316 不锈钢，500 毫升"),
                Product(code="lamp", name="台灯", category_id=home.id, points=5000, stock=2),
                Product(code="coffee", name="咖啡券", category_id=card.id, points=50, stock=3, kind=VIRTUAL)])
    db.flush()
    coffee = db.scalar(select(Product.id).where(Product.code == "coffee"))
    db.add_all([VirtualCode(product_id=coffee, code=c) for c in ("CAFE-0001", "CAFE-0002")])
    db.commit()


def make_member(app, person, jobs, phone, balance):
    person.follow()
    bind(person, app, jobs, phone)
    jobs.run_all()
    with points.transaction(app) as book:
        m = book.db.scalar(select(Member).where(Member.phone == phone))
        adjust(book, m.id, balance - m.points, "开业赠送", "ops", f"gift-{m.id}")
    jobs.run_all()


def test_a_member_browses_filters_redeems_and_sees_the_order_and_the_history(app, phone, jobs, shop, world, chromium_env):
    alice = phone("alice")
    make_member(app, alice, jobs, "13812345678", 400)
    ARTIFACTS.mkdir(exist_ok=True)
    base = app.config["PUBLIC_BASE_URL"]
    with sync_playwright() as p:
        # Debian's chromium, never a downloaded one: a missing binary fails this test.
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=chromium_env)
        context, page = phone_page(browser, alice.openid)
        sign_in(page, base, alice.openid, "/h5/hq/mall/")
        expect(page.locator("#balance")).to_have_text("400")
        expect(page.locator("#products a")).to_have_count(3)
        page.wait_for_function("window.__wx && window.__wx.shared.length == 2")
        configured = page.evaluate("window.__wx.config")
        assert configured["jsApiList"] == ["updateAppMessageShareData", "updateTimelineShareData", "closeWindow"]
        assert configured["appId"] == alice.account.appid and re.fullmatch(r"[0-9a-f]{40}", configured["signature"])
        page.screenshot(path=str(ARTIFACTS / "mall-1-products.png"), full_page=True)

        page.click("#categories >> text=卡券")
        expect(page.locator("#products a")).to_have_count(1)
        page.click("#affordable")
        expect(page.locator("#products a")).to_have_count(1)
        page.click("#categories >> text=全部")
        expect(page.locator("#products a")).to_have_count(2)          # 我能兑换 still on
        page.screenshot(path=str(ARTIFACTS / "mall-2-affordable.png"), full_page=True)

        page.click("text=保温杯")
        expect(page.locator("#name")).to_have_text("保温杯")
        page.screenshot(path=str(ARTIFACTS / "mall-3-product.png"), full_page=True)
        page.click("#redeem")
        page.fill("#name", "张三")
        page.fill("#phone", "13900001111")
        page.fill("#region", "浙江省 杭州市 西湖区")
        page.fill("#detail", "文三路 1 号")
        page.screenshot(path=str(ARTIFACTS / "mall-4-address.png"), full_page=True)
        page.click("#next")
        expect(page.locator("#confirm")).to_contain_text("139****1111")
        page.screenshot(path=str(ARTIFACTS / "mall-5-confirm.png"), full_page=True)
        page.click("#confirm-redeem")
        expect(page.locator("#done")).to_contain_text("兑换成功")
        expect(page.locator("#status")).to_have_text("待发货")
        page.screenshot(path=str(ARTIFACTS / "mall-6-done.png"), full_page=True)

        page.click(".h5-nav >> text=积分订单")
        expect(page.locator("#orders")).to_contain_text("保温杯")
        page.screenshot(path=str(ARTIFACTS / "mall-7-orders.png"), full_page=True)
        page.click(".h5-nav >> text=积分记录")
        expect(page.locator("#history")).to_contain_text("积分商城兑换：保温杯")
        expect(page.locator("#history")).to_contain_text("-300")
        page.screenshot(path=str(ARTIFACTS / "mall-8-history.png"), full_page=True)

        page.click(".h5-nav >> text=商城")
        page.click("text=咖啡券")
        page.click("#redeem")
        page.click("#next")
        page.click("#confirm-redeem")
        expect(page.locator("#virtual-code")).to_have_text("CAFE-0001")
        page.screenshot(path=str(ARTIFACTS / "mall-9-virtual-code.png"), full_page=True)
        context.close()
        browser.close()
    jobs.run_all()
    told = [m.get("content") or "" for m in world.messages_to(alice.account.appid, alice.openid)]
    assert any("券码 CAFE-0001" in t for t in told)


def test_an_unbound_fan_is_sent_to_the_chat_and_the_chat_prompts_them(app, phone, jobs, shop, world, chromium_env):
    dave = phone("dave")
    dave.follow()
    jobs.run_all()
    ARTIFACTS.mkdir(exist_ok=True)
    base = app.config["PUBLIC_BASE_URL"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=chromium_env)
        context, page = phone_page(browser, dave.openid)
        sign_in(page, base, dave.openid, "/h5/hq/mall/")
        expect(page.locator(".weui-msg__title")).to_have_text("请先绑定手机号")
        page.screenshot(path=str(ARTIFACTS / "mall-unbound-page.png"), full_page=True)
        page.click("text=回到公众号")
        page.wait_for_function("window.__wx.closed == 1")              # closeWindow, back to the chat
        # The sandbox's chat shows what arrives while it is open: open it, then let the job run.
        chat = browser.new_page(viewport={"width": 480, "height": 812})
        chat.goto(f"{base}/sandbox/?phone=hq:dave")
        expect(chat.locator(".phone").first).to_contain_text("新消息会自动出现")
        jobs.run_all()
        expect(chat.locator(".phone .msg").last).to_contain_text("回复“绑定”即可开始", timeout=15_000)
        chat.screenshot(path=str(ARTIFACTS / "mall-unbound-chat-prompt.png"), full_page=True)
        context.close()
        browser.close()
    told = [m.get("content") or "" for m in world.messages_to(dave.account.appid, dave.openid)]
    assert sum("回复“绑定”即可开始" in t for t in told) == 1
