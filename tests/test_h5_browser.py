"""The points mall in a real browser: Debian's headless Chromium at 375x812 with WeChat's user
agent and a stubbed jweixin, against the test app served over HTTP (the sandbox's authorize
page plays WeChat's). A member browses, filters, opens a product, redeems with a new address,
sees the order and the history; a virtual product shows its code; an unbound fan gets the page
that sends them to the chat, and the chat prompt. Screenshots go to tests/artifacts/."""
import os
import re
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from bot import create_app, points
from bot.points.engine import adjust
from binding_support import bind, load_rules
from tests.conftest import empty_tables
from models import MallCategory, Member, Product, VirtualCode
from models.mall import VIRTUAL
from tests.embedded_processes import free_port

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE_VIEWPORT = {"width": 375, "height": 812}
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN")
# jweixin stand-in: records what the page asks of the JS-SDK (§4.12), calls ready at once.
JWEIXIN_STUB = """window.__wx = {config: null, shared: [], closed: 0};
window.wx = {config: function (c) { window.__wx.config = c; },
  ready: function (f) { setTimeout(f, 0); }, error: function () {},
  updateAppMessageShareData: function (d) { window.__wx.shared.push(['friend', d]); },
  updateTimelineShareData: function (d) { window.__wx.shared.push(['timeline', d]); },
  closeWindow: function () { window.__wx.closed += 1; }};"""


@pytest.fixture
def app(database_url, redis, clock):
    """The test app, served over HTTP on a free port that is also its public address."""
    port = free_port()
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "REDIS": redis, "CLOCK": clock,
                      "SANDBOX": True, "JOBS_INLINE": False, "STRICT_STATES": True,
                      "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app
    server.shutdown()
    thread.join(5)
    empty_tables(app.extensions["engine"])


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


@pytest.fixture
def chromium_env(tmp_path):
    """Chromium's environment with a Chinese font (the one the posters use, bot/assets/): the
    machine may have none, and the screenshots must be readable."""
    fonts = tmp_path / "fonts.conf"
    fonts.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
                     '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
                     f'<dir>{Path(__file__).resolve().parent.parent / "bot/assets"}</dir>'
                     f'<cachedir>{tmp_path / "fontcache"}</cachedir></fontconfig>', encoding="utf-8")
    return {**os.environ, "FONTCONFIG_FILE": str(fonts)}


def make_member(app, person, jobs, phone, balance):
    person.follow()
    bind(person, app, jobs, phone)
    jobs.run_all()
    with points.transaction(app) as book:
        m = book.db.scalar(select(Member).where(Member.phone == phone))
        adjust(book, m.id, balance - m.points, "开业赠送", "ops", f"gift-{m.id}")
    jobs.run_all()


def phone_page(browser, openid):
    """A WeChat webview: phone size, WeChat's UA, jweixin stubbed, the sandbox knows who it is."""
    context = browser.new_context(viewport=PHONE_VIEWPORT, user_agent=WECHAT_UA, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    context.route("https://res.wx.qq.com/**", lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=JWEIXIN_STUB))
    page = context.new_page()
    return context, page


def sign_in(page, base, openid, path):
    """Open `path`; WeChat's authorize page (the sandbox's) signs in as `openid`."""
    page.goto(f"{base}{path}")
    page.fill('input[name="openid"]', openid)
    page.click("text=允许")


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
