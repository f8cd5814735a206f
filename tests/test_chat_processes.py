"""`sandbox chat` in real processes on the embedded defaults: what the bot sends shows up on
the terminal when it is sent, a script can bind a phone with the code its SMS showed, and an
agent and a fan in two terminals talk without either typing to pull the other's messages."""
import os
import re

import pytest

from tests.embedded_processes import Service, Terminal, demo_with_agent, flask, free_port

# The embedded mode in real processes ignores TEST_DATABASE_URL/TEST_REDIS_URL: CI's embedded pass
# runs these; its PostgreSQL pass would only repeat them.
pytestmark = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                                reason="embedded-mode processes run in the embedded pass")

FAN_PHONE, AGENT_PHONE = "13800001234", "13900000001"


def test_a_script_binds_a_phone_with_the_code_its_sms_showed(tmp_path):
    instance = tmp_path / "instance"
    flask(instance, "db", "upgrade")
    flask(instance, "demo")
    script = tmp_path / "bind.txt"
    script.write_text(f"/follow\n绑定\n{FAN_PHONE}\n{{code}}\n跳过\n我的\n", encoding="utf-8")
    output = flask(instance, "sandbox", "chat", "--account", "demo", "--as", "bob", "--script", str(script))
    sms = re.search(r"bob> 13800001234\n(?:.*\n)*?  \[短信 138\*\*\*\*1234\] 【旅游集团】您的验证码是 (\d{6})", output)
    assert sms, output
    assert "绑定成功，您已成为会员！" in output.split("bob> {code}\n")[1].split("bob> 跳过")[0], output
    assert "bob> 我的\n  " in output and "138****1234" in output.split("bob> 我的")[1]
    assert "INFO" not in output and "13800001234" not in output.split("bob> 13800001234")[1]


def test_an_agent_and_a_fan_in_two_terminals_hear_each_other_without_typing(tmp_path):
    instance = demo_with_agent(tmp_path, AGENT_PHONE)
    service = Service(instance, free_port())
    agent = Terminal(instance, "--account", "demo", "--as", "xiaowang", "--url", service.url)
    fan = Terminal(instance, "--account", "demo", "--as", "carol", "--url", service.url)
    try:
        agent.type("/follow")
        agent.type("绑定")
        agent.expect("请输入您的手机号")
        agent.type(AGENT_PHONE)
        code = agent.expect(r"\[短信 139\*\*\*\*0001\] .*验证码是 (\d{6})").group(1)
        agent.type(code)
        agent.expect("员工身份验证成功")
        agent.type("上班")
        agent.expect("已上班")

        fan.type("/follow")
        fan.type("人工")
        fan.expect("已为您接通")
        seen = agent.mark()
        fan.type("我的订单还没出票")
        # The agent types nothing: the relay reaches their terminal as a customer-service message.
        agent.expect(r"(?s)\[客服消息\] .*【#\d+ [^】]*】我的订单还没出票", timeout=30, after=seen)

        seen = fan.mark()
        agent.type("您好，我帮您查一下")
        fan.expect(r"(?s)\[客服消息\] .*您好，我帮您查一下", timeout=30, after=seen)
    finally:
        agent.close()
        fan.close()
        service.stop()
