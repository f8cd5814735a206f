"""The sandbox in a browser (/sandbox/), in Debian's headless Chromium against `make run`'s
service on the embedded defaults: two phones on one page, the agent binds their phone with the
code the SMS shows, the fan asks 人工, the agent answers, the fan rates. Nobody reloads anything:
what the other person sends appears by itself. Screenshots go to tests/artifacts/."""
import os
import re

import pytest
from h5_browser_support import ARGS, ARTIFACTS, CHROMIUM
from playwright.sync_api import expect, sync_playwright

from tests.embedded_processes import Service, demo_with_agent, flask, free_port

# The embedded mode in real processes ignores TEST_DATABASE_URL/TEST_REDIS_URL: CI's embedded pass
# runs these; its PostgreSQL pass would only repeat them.
pytestmark = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                                reason="embedded-mode processes run in the embedded pass")

AGENT_PHONE = "13900000001"


def test_two_phones_fan_asks_for_an_agent_the_agent_answers_the_fan_rates(tmp_path, chromium_env):
    instance = demo_with_agent(tmp_path, AGENT_PHONE)
    flask(instance, "menus", "push", "--account", "demo")
    ARTIFACTS.mkdir(exist_ok=True)
    service = Service(instance, free_port())
    try:
        with sync_playwright() as p:
            # Debian's chromium, never a downloaded one: a missing binary fails this test.
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=chromium_env)
            page = browser.new_page(viewport={"width": 1000, "height": 820})
            page.goto(f"{service.url}/sandbox/?phone=demo:carol&phone=demo:xiaowang")
            fan, agent = page.locator('.phone[data-name="carol"]'), page.locator('.phone[data-name="xiaowang"]')
            expect(fan.locator(".title")).to_contain_text("carol @ demo")

            def say(phone, text):
                phone.locator(".text").fill(text)
                phone.locator(".send").click()

            agent.locator(".follow").click()
            expect(agent.locator(".msg.bot").last).to_contain_text("欢迎关注旅游集团")
            # The menu pushed to the sandbox shows, as buttons, for a fan (粉丝 or the default).
            expect(agent.locator(".menu > button").first).to_be_visible(timeout=15_000)
            say(agent, "绑定")
            expect(agent.locator(".msg.bot").last).to_contain_text("请输入您的手机号")
            say(agent, AGENT_PHONE)
            sms = agent.locator(".msg.sms")
            expect(sms).to_contain_text("验证码是", timeout=20_000)
            code = re.search(r"验证码是 (\d{6})", sms.first.inner_text()).group(1)
            say(agent, code)
            expect(agent.locator(".msg.bot").last).to_contain_text("员工身份验证成功")
            say(agent, "上班")
            expect(agent.locator(".msg.bot").last).to_contain_text("已上班")
            # Bound as staff, the agent's phone shows the staff menu: the conditional menu of his
            # last-applied tag in the sandbox's menu state (§4.6), once the tag job has run.
            expect(agent.locator(".menu > button", has_text="员工中心")).to_be_visible(timeout=30_000)

            fan.locator(".follow").click()
            expect(fan.locator(".msg.bot").last).to_contain_text("欢迎关注旅游集团")
            # The fan's phone shows the fans' menu; tapping its CLICK button 联系客服 asks for a person.
            expect(fan.locator(".menu > button", has_text="成为会员")).to_be_visible(timeout=15_000)
            assert not fan.locator(".menu > button", has_text="员工中心").count()
            fan.locator(".menu > button", has_text="联系客服").click()
            expect(fan.locator(".msg.note").last).to_contain_text("点击菜单 联系客服")
            expect(fan.locator(".msg.bot").last).to_contain_text("已为您接通")
            say(fan, "我的订单还没出票")
            # Nobody on the agent's phone typed: the relay arrives as a customer-service message.
            expect(agent.locator(".msg.cs").last).to_contain_text("我的订单还没出票", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "sandbox-cs-fan-asks.png"))

            say(agent, "您好，我帮您查一下，已为您出票")
            expect(fan.locator(".msg.cs").last).to_contain_text("已为您出票", timeout=30_000)
            say(agent, "结束")
            expect(fan.locator(".msg.cs", has_text="请为本次服务打分")).to_have_count(1, timeout=30_000)
            say(fan, "5")
            expect(fan.locator(".msg.bot").last).to_contain_text("感谢", timeout=15_000)
            page.screenshot(path=str(ARTIFACTS / "sandbox-cs-fan-rated.png"))
            assert not page.locator(".msg.error").count()
            browser.close()
    finally:
        service.stop()


def test_a_fan_taps_the_mall_button_the_page_opens_in_the_phone_and_the_chat_says_how_to_bind(tmp_path, chromium_env):
    """A VIEW button opens its H5 page inside the phone, through the sandbox's OAuth page (which
    knows who tapped): the mall sees an unbound fan, says to bind in the chat, and the bot's
    binding prompt arrives in the chat by itself."""
    instance = demo_with_agent(tmp_path, AGENT_PHONE)
    port = free_port()
    base = {"PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}        # the menu's mall link points here
    flask(instance, "menus", "push", "--account", "demo", **base)
    ARTIFACTS.mkdir(exist_ok=True)
    service = Service(instance, port, **base)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env=chromium_env)
            page = browser.new_page(viewport={"width": 1000, "height": 820})
            page.goto(f"{service.url}/sandbox/?phone=demo:dave")
            fan = page.locator('.phone[data-name="dave"]')
            fan.locator(".follow").click()
            expect(fan.locator(".msg.bot").last).to_contain_text("欢迎关注旅游集团")
            fan.locator(".menu > button", has_text="更多").click(timeout=15_000)
            fan.locator(".sub button", has_text="积分商城").click()
            expect(fan.locator(".msg.note").last).to_contain_text("打开 积分商城")
            mall = fan.frame_locator(".page iframe")
            expect(mall.locator("body")).to_contain_text("请先绑定手机号", timeout=20_000)
            expect(fan.locator(".msg.cs").last).to_contain_text("回复“绑定”即可开始", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "sandbox-view-mall-unbound.png"))
            fan.locator(".page .close").click()                      # back to the chat
            page.screenshot(path=str(ARTIFACTS / "sandbox-view-mall-chat-prompt.png"))
            browser.close()
    finally:
        output = service.stop()
    assert "Traceback" not in output, output
