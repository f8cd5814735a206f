"""Customer service for the fan, and names from one source (transcripts through the webhook):
leaving the queue, ending a conversation, ratings only after the prompt, 列表's unread counts,
every quoted button name in the menu definition, and no menu talk where there is no menu."""
import ast
import re
from pathlib import Path

import pytest

from bot.cs.lifecycle import LEFT_QUEUE, RATE
from handlers.common import FALLBACK, FALLBACK_NO_MENU
from handlers.cs import THANKS
from handlers.points import NOT_A_MEMBER
from menus.definition import DEFAULT, button_names

ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("leave", ["取消", "结束", "退出"])
def test_a_waiting_fan_is_told_how_to_leave_and_leaves(org, leave):
    alice = org.fan("alice", "门店A")
    assert "回复“取消”退出排队" in alice.text("人工")
    assert "回复“取消”退出排队" in alice.text("在吗")
    assert alice.text(leave) == LEFT_QUEUE
    assert org.conversation(alice).status == "closed"
    assert all(content != leave for _, _, content in org.transcript(alice))   # not kept as a message


def test_a_fan_ends_the_conversation_and_the_agent_is_told(org, jobs):
    zhang = org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    zhang.text("您好")
    assert RATE in alice.text("结束")
    assert org.conversation(alice).closed_by == "fan"
    jobs.run_all()
    assert any("顾客已结束会话" in t for t in org.texts(zhang)) or "顾客已结束会话" in (zhang.text("列表") or "")


def test_a_rating_sent_before_the_prompt_reached_the_fan_is_no_rating(org, jobs):
    zhang = org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    zhang.text("您好")
    zhang.text("结束")                     # the prompt waits for its custom-message job
    early = alice.text("5")               # …so this "5" answers nothing; the prompt rides along
    assert early.endswith(FALLBACK) and RATE in early
    assert org.conversation(alice).rating is None
    assert alice.text("5") == THANKS      # now it had reached her
    assert org.conversation(alice).rating == 5


def quoted_menu_names() -> set[str]:
    """Every name the bot's texts quote as a menu button (菜单“…”), from the string literals of
    every module that talks to people."""
    names = set()
    for path in [*ROOT.glob("handlers/*.py"), *ROOT.glob("bot/**/*.py"), *ROOT.glob("workers/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names |= {n for n in re.findall(r"菜单[^“]{0,4}“([^”{}]+)”", node.value)}
    return names


def test_every_quoted_button_name_is_in_the_menu_definition(wx):
    assert quoted_menu_names() <= button_names(DEFAULT)
    reply = wx.text("积分")                              # rendered through the webhook
    assert reply == NOT_A_MEMBER
    for name in re.findall(r"菜单“([^”]+)”", reply):
        assert name in button_names(DEFAULT)
    assert "成为会员" in reply


def test_a_subscription_account_never_mentions_a_menu(make_account, phone):
    sub = make_account(slug="subs", type="subscription", verified=False, appid="wx5ub5c00000000003",
                       original_id="gh_5ub5c0000003", welcome_text="")
    bob = phone("bob", account=sub)
    for reply in (bob.follow(), bob.text("帮助"), bob.text("积分"), bob.text("你好"), bob.text("绑定"),
                  bob.text("取消")):
        assert reply and "菜单" not in reply, reply
    assert bob.text("你好") == FALLBACK_NO_MENU
