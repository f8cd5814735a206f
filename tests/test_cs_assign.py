"""Issue #6 Must show, the engine's part, through the webhook: who gets a conversation and why
(the fan's store's agents, least busy then longest idle → the default agent → the queue, which
drains first in first out as room frees), and transfers."""
import re

from bot.outbound import SEPARATOR
from cs_support import cast

QUEUED = "客服繁忙，您前面还有 {ahead} 位，请稍候。接通前发送的消息会一并转给客服。回复“取消”退出排队。"


def test_a_store_agent_is_chosen_least_busy_then_longest_idle(team):
    """A fan of 门店A asking for a person gets 门店A's agent idle longest (张三, on shift
    first); the next one the least busy (李四: 0 open against 张三's 1); the reasons say so and
    the agent is told with the fan's label."""
    cast(team)
    first = team.fan("f1", "A")
    assert "张三" in first.text("人工")
    assert team.agent_of("f1") == "张三"
    [(kind, reason)] = team.reasons("f1")
    assert kind == "assigned"
    assert re.fullmatch(r"门店A agent 张三: on shift, 0/2 open, idle since 11-23 18:0\d", reason)
    team.fan("f2", "A").text("人工")
    assert team.agent_of("f2") == "李四"
    assert team.reasons("f2")[0][1].startswith("门店A agent 李四: on shift, 0/1 open")
    team.jobs.run_all()
    label = f"#{team.conversation('f1').id} 粉丝#{team.fan_row(first).id} · 门店A"
    assert any(t.startswith(f"新会话 {label}") for t in team.texts("张三"))
    assert not any(t.startswith("新会话") for t in team.texts("李四") if label in t)


def test_store_full_goes_to_the_default_agent_then_the_queue_which_drains_in_order(team):
    """门店A's agents full → the default agent; the default full → the queue (position told);
    a close gives the room to the oldest waiting fan it can serve, not to a later one."""
    cast(team)
    for name in ("f1", "f2", "f3"):
        team.fan(name, "A").text("人工")
    assert [team.agent_of(n) for n in ("f1", "f2", "f3")] == ["张三", "李四", "张三"]

    assert "王五" in team.fan("f4", "A").text("人工")
    assert team.reasons("f4") == [("assigned", "门店A agents full (张三 2/2, 李四 1/1) → default agent 王五 0/1")]

    assert team.fan("f5", "A").text("人工") == QUEUED.format(ahead=0)
    assert team.reasons("f5") == [("queued", "门店A agents full (张三 2/2, 李四 1/1), default agents full "
                                             "(王五 1/1) → queue position 1")]
    assert "赵六" in team.fan("f6", "B").text("人工")
    assert team.fan("f7", "B").text("人工") == QUEUED.format(ahead=1)
    assert team.reasons("f7")[0][1] == "门店B agents full (赵六 1/1), default agents full (王五 1/1) → queue position 2"
    assert team.fan("f8").text("人工") == QUEUED.format(ahead=2)       # no store: default agents only
    assert team.reasons("f8")[0][1] == "no store, default agents full (王五 1/1) → queue position 3"
    assert team.fan("f8").text("人工") == "您已在排队，前面还有 2 位，请稍候。回复“取消”退出排队。"

    team.people["张三"].text("结束")                 # his current conversation: f1's
    team.jobs.run_all()
    assert team.conversation("f1").status == "closed"
    assert team.agent_of("f5") == "张三"             # the oldest waiting fan he can serve
    assert team.reasons("f5")[-1][1].startswith("from the queue: 门店A agent 张三: on shift, 1/2 open")
    assert team.agent_of("f7") is None and team.agent_of("f8") is None
    assert "客服 张三 已为您服务，请直接发送您的问题。" in team.texts("f5")

    team.people["王五"].text("结束")                 # the default agent's room: f7 before f8
    team.jobs.run_all()
    assert team.agent_of("f7") == "王五"
    assert team.reasons("f7")[-1] == ("assigned", "from the queue: 门店B agents full (赵六 1/1) → default agent 王五 0/1")
    assert team.agent_of("f8") is None
    assert [team.load(n) for n in ("张三", "李四", "赵六", "王五")] == [2, 1, 1, 1]


def test_coming_on_shift_drains_the_queue(team):
    """Nobody on shift: the fan waits; the first agent of the store to say 上班 gets them."""
    team.agent("张三", "A", 2, shift=False)
    assert team.fan("f1", "A").text("人工") == QUEUED.format(ahead=0)
    assert team.reasons("f1")[0][1] == "门店A: no agent on shift, no default agent on shift → queue position 1"
    team.people["张三"].text("上班")
    team.jobs.run_all()
    assert team.agent_of("f1") == "张三"


def test_transfer_to_an_agent_or_a_store_by_the_same_capacity_rules(team):
    """转 NAME moves the conversation when the target has room; a full or absent target is
    named and nothing changes; a store goes to its best free agent."""
    cast(team)
    fan = team.fan("f1", "A")
    fan.text("人工")
    zhang, zhao = team.people["张三"], team.people["赵六"]
    c = team.conversation("f1")
    label = f"#{c.id} 粉丝#{c.fan_id} · 门店A"
    # 张三's reply first carries what waited for him (the new conversation), then the answer.
    assert zhang.text("转 赵六").split(SEPARATOR)[-1] == f"已将会话 {label} 转给 赵六。"
    assert team.agent_of("f1") == "赵六"
    assert team.reasons("f1")[-1] == ("transferred", "transferred by 张三 to agent 赵六: on shift, 0/1 open")
    team.fan("f2", "B").text("人工")                  # 赵六 is full: 王五 takes it
    assert team.agent_of("f2") == "王五"

    assert zhao.text("转 王五").split(SEPARATOR)[-1] == "王五 已满（1/1），会话未转接，仍由您接待；可以转给其他客服或门店，例如：转 门店A。"
    assert zhao.text("转 门店B") == "门店B 没有在班的客服，会话未转接，仍由您接待；可以转给其他客服或门店，例如：转 门店A。"
    assert zhao.text("转 不存在的人") == "找不到叫“不存在的人”的客服或门店。请写客服姓名或门店名称，例如：转 张三。"
    team.people["李四"].text("下班")
    assert zhao.text("转 李四") == "李四 现在不在班，会话未转接，仍由您接待；可以转给其他客服或门店，例如：转 门店A。"
    assert team.agent_of("f1") == "赵六"

    assert zhao.text("转 A") == f"已将会话 {label} 转给 张三。"    # a store by its code
    assert team.reasons("f1")[-1][1].startswith("transferred by 赵六 to 门店A agent 张三: on shift, 0/2 open")
    team.jobs.run_all()
    assert "已为您转接至客服 张三，请稍候。" in team.texts("f1")
    assert any(t.startswith(f"转接会话 {label}（来自 赵六）") for t in team.texts("张三"))
