"""Customer service from the chat's point of view (issue #6, Build 1-2 and the Must show): a fan
asks for a person and is answered by their store's agent, the default agent when those are
full, the queue when everyone is; 结束, 转; the agent's commands. Rating is in
test_cs_chat_rating.py. Transcripts through the webhook and the sandbox."""
from cs_support import pieces, send_image, send_voice

from sqlalchemy import update

from handlers.common import FALLBACK
from handlers.cs import AGENT_HELP, NO_CONVERSATION, UNSUPPORTED, WAITING_NOTE
from handlers.me import FAN_HELP
from menus.definition import MenuKey
from models import AgentState
from models.cs import ASSIGNED, CLOSED, WAITING

CONNECTED = "已为您接通{}，请直接发送您的问题。回复“结束”可结束会话。"


def test_a_store_agent_is_chosen_and_answers(org, jobs):
    """The fan of 门店A gets 门店A's agent (not 门店B's); each side's messages reach the other,
    the fan's behind a label; both are in the transcript; the first answer is noted."""
    zhang = org.agent("张三", "门店A")
    wang = org.agent("王五", "门店B")
    alice = org.fan("alice", "门店A")

    assert alice.text("人工") == CONNECTED.format("门店A的客服张三")
    jobs.run_all()
    tag = org.tag(alice)
    assert any("新会话" in t and tag[1:-1] in t for t in org.texts(zhang))
    assert org.texts(wang) == []

    assert alice.text("你好，我想改签") is None           # relayed: no echo for the fan
    jobs.run_all()
    assert org.texts(zhang)[-1] == f"{tag}你好，我想改签"
    assert zhang.text("好的，请提供订单号") is None
    jobs.run_all()
    assert org.texts(alice)[-1] == "好的，请提供订单号"

    assert org.transcript(alice) == [("fan", "text", "你好，我想改签"), ("agent", "text", "好的，请提供订单号")]
    conversation = org.conversation(alice)
    assert (conversation.status, conversation.agent_id) == (ASSIGNED, org.staff["张三"])
    assert conversation.answered_at is not None


def test_asking_again_tells_where_the_conversation_stands(org, jobs):
    """人工 twice, or the menu's 联系客服: one conversation, and the fan hears who has it."""
    org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    assert alice.click(MenuKey.CONTACT_AGENT) == "您正在与门店A的客服张三对话，请直接发送您的问题。回复“结束”可结束会话。"
    assert alice.text("客服").startswith("您正在与门店A的客服张三对话")


def test_the_default_agent_when_the_store_agents_are_full(org, jobs):
    """张三 (capacity 1) has alice; bob, of the same store, goes to the default agent."""
    zhang = org.agent("张三", "门店A", capacity=1)
    zhao = org.agent("赵六", "总部", capacity=1, default=True)
    alice, bob = org.fan("alice", "门店A"), org.fan("bob", "门店A")

    assert alice.text("人工") == CONNECTED.format("门店A的客服张三")
    assert bob.click(MenuKey.CONTACT_AGENT) == CONNECTED.format("客服赵六")     # not bob's store: not named
    bob.text("在吗？")
    jobs.run_all()
    assert org.texts(zhao)[-1] == f"{org.tag(bob)}在吗？"
    assert not any("在吗" in t for t in org.texts(zhang))


def test_a_fan_with_no_store_is_not_told_the_default_agents_store(org, jobs):
    """A fan who followed without a store code meets the default agent by name only: "西湖门店的
    客服小王" would name a store the fan does not belong to."""
    org.agent("赵六", "总部", default=True)
    dave = org.fan("dave", None)
    assert dave.text("人工") == CONNECTED.format("客服赵六")
    assert dave.text("人工") == "您正在与客服赵六对话，请直接发送您的问题。回复“结束”可结束会话。"


def test_the_queue_then_assignment_when_a_conversation_is_closed_by_jieshu(org, jobs):
    """Everyone full: carol queues and is told her position; what she writes while waiting is
    kept; 张三's 结束 frees him: his reply carries the new conversation and carol's messages,
    in order; carol is told who took her."""
    zhang = org.agent("张三", "门店A", capacity=1)
    org.agent("赵六", "总部", capacity=1, default=True)
    alice, bob, carol = org.fan("alice", "门店A"), org.fan("bob", "门店A"), org.fan("carol", "门店A")
    alice.text("人工")
    bob.text("人工")

    assert carol.text("人工").startswith("客服繁忙，您前面还有 0 位")
    assert carol.text("我想退票") == WAITING_NOTE
    assert carol.text("订单号 A123") == WAITING_NOTE
    assert carol.text("人工").startswith("您已在排队")
    jobs.run_all()
    assert org.conversation(carol).status == WAITING

    reply = pieces(zhang.text("结束"))
    jobs.run_all()
    tag = org.tag(carol)
    assert reply[-2:] == [f"{tag}我想退票", f"{tag}订单号 A123"]
    assert any("新会话" in p for p in reply[:-2])
    assert org.conversation(alice).status == CLOSED
    assert org.conversation(carol).agent_id == org.staff["张三"]
    assert any("张三" in t for t in org.texts(carol))
    assert any("1-5" in t or "1–5" in t or "打分" in t for t in org.texts(alice))

    assert carol.text("还在吗") is None
    jobs.run_all()
    assert org.texts(zhang)[-1] == f"{tag}还在吗"


def test_transfer_hands_the_fan_and_the_unread_to_another_agent(org, jobs):
    """转 王五: 王五 gets the conversation and what 张三 had not answered; the fan's next
    messages go to 王五; 张三 no longer has it."""
    zhang = org.agent("张三", "门店A", capacity=2)
    wang = org.agent("王五", "门店B", capacity=1)
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    alice.text("我想问门店B的活动")
    jobs.run_all()

    answer = zhang.text("转 王五")
    jobs.run_all()
    assert "王五" in answer
    conversation = org.conversation(alice)
    assert (conversation.status, conversation.agent_id) == (ASSIGNED, org.staff["王五"])
    tag = org.tag(alice)
    assert f"{tag}我想问门店B的活动" in org.texts(wang)

    alice.text("谢谢")
    jobs.run_all()
    assert org.texts(wang)[-1] == f"{tag}谢谢"
    assert not any("谢谢" in t for t in org.texts(zhang))
    assert zhang.text("列表") == NO_CONVERSATION


def test_a_transfer_to_nobody_is_refused_and_the_message_is_not_sent(org, jobs):
    zhang = org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    answer = zhang.text("转 不存在的人")
    jobs.run_all()
    assert answer and "不存在的人" in answer
    assert org.conversation(alice).agent_id == org.staff["张三"]
    assert org.transcript(alice) == []


def test_menu_clicks_still_work_during_a_conversation(org, jobs):
    """The menu is never trapped: 帮助 answers, and the conversation goes on."""
    zhang = org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    assert alice.click(MenuKey.HELP) == FAN_HELP
    alice.text("取消")                       # no flow to leave: it is a message for the agent
    jobs.run_all()
    assert org.texts(zhang)[-1] == f"{org.tag(alice)}取消"
    assert org.conversation(alice).status == ASSIGNED


def test_images_and_voice_travel_by_media_id_both_ways(org, jobs):
    """The fan's image reaches the agent after its label; the agent's voice reaches the fan."""
    zhang = org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    jobs.run_all()
    picture, voice = org.upload("image"), org.upload("voice")

    assert send_image(alice, picture) is None
    jobs.run_all()
    got = [(m["msgtype"], m["content"] or m["payload"]["image"]["media_id"]) for m in org.inbox(zhang)][-2:]
    assert got == [("text", f"{org.tag(alice)}[图片]"), ("image", picture)]

    assert send_voice(zhang, voice) is None
    jobs.run_all()
    last = org.inbox(alice)[-1]
    assert (last["msgtype"], last["payload"]["voice"]["media_id"]) == ("voice", voice)
    assert org.transcript(alice) == [("fan", "image", picture), ("agent", "voice", voice)]


def test_what_cannot_be_relayed_is_said_not_dropped(org, jobs):
    org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    assert alice.location(30.25, 120.16, "西湖") == UNSUPPORTED
    assert org.transcript(alice) == []


def test_the_agents_desk(org, jobs, db):
    """列表 with unread counts; a plain message with two conversations and none chosen asks to
    choose; 切换 by number and by #id shows the latest messages and reads them, as 列表 reads what
    it counted; 资料; 帮助."""
    zhang = org.agent("张三", "门店A", capacity=3)
    alice, bob = org.fan("alice", "门店A"), org.fan("bob", "门店A")
    org.member(alice, phone="13812345678", points=120)
    alice.text("人工")
    bob.text("人工")
    alice.text("第一句")
    alice.text("第二句")
    bob.text("你好")
    jobs.run_all()
    a, b = org.tag(alice)[1:-1], org.tag(bob)[1:-1]

    listing = f"您的会话（2）：\n1. {a}，未读 2（当前）\n2. {b}，未读 1"
    assert zhang.text("列表") == listing + "\n回复“切换 N”选择会话。"
    assert zhang.text("切换 2") == f"已切换到【{b}】\n顾客：你好"
    # The first 列表 showed alice's two messages as unread: shown, they are not counted again.
    assert zhang.text("列表").startswith(f"您的会话（2）：\n1. {a}，未读 0\n2. {b}，未读 0（当前）")
    assert zhang.text(f"切换 #{org.conversation(alice).id}") == f"已切换到【{a}】\n顾客：第一句\n顾客：第二句"
    profile = zhang.text("资料")
    assert "手机：138****5678" in profile and "积分：120" in profile and "门店：门店A" in profile
    assert "13812345678" not in profile
    zhang.text("切换 2")
    bob.text("再问一句")
    jobs.run_all()
    assert f"2. {b}，未读 1（当前）" in zhang.text("列表")
    assert zhang.text("好的") is None                 # answering reads what came before
    assert f"2. {b}，未读 0（当前）" in zhang.text("列表")
    assert zhang.text("帮助").startswith(AGENT_HELP)
    assert zhang.text("切换 9") .startswith("没有找到会话 9")
    assert zhang.text("下班") == "已下班，不再接新会话。您还有 2 个会话，处理完请回复“结束”。"


def test_an_agent_without_conversations_uses_the_bot_like_any_member(org, jobs):
    zhang = org.agent("张三", "门店A", shift=False)
    off_work = zhang.text("帮助")                      # every desk command, and how to start
    assert off_work.startswith("您现在不在班，回复“上班”开始接待。\n" + AGENT_HELP) and "“海报”" in off_work
    assert zhang.text("上班").startswith("已上班")
    assert zhang.text("帮助").startswith(AGENT_HELP)
    assert zhang.text("我的").startswith("手机：")
    assert zhang.text("随便说说") == FALLBACK
    assert zhang.text("结束") == NO_CONVERSATION
    assert zhang.click(MenuKey.CONTACT_AGENT).startswith("您是客服")


def test_an_agent_is_treated_as_an_agent_even_with_a_conversation_as_a_fan(org, jobs):
    """李四 asked for a person before he joined the roster; once an agent, what he writes is an
    agent's (for the fan he serves), never a fan's message in his old conversation."""
    zhang = org.agent("张三", "门店A", capacity=1)
    li = org.fan("lisi", "门店A")
    li.text("人工")
    li.text("我是顾客")
    jobs.run_all()
    org.agent("李四", "门店A", capacity=1, person=li)
    alice = org.fan("alice", "门店A")
    assert alice.text("人工") == CONNECTED.format("门店A的客服李四")
    jobs.run_all()
    assert li.text("您好") is None
    jobs.run_all()
    assert org.texts(alice)[-1] == "您好"
    assert org.transcript(li) == [("fan", "text", "我是顾客")]
    assert zhang.text("列表").startswith("您的会话（1）")


def test_an_agent_with_several_conversations_and_none_chosen_is_asked_to_choose(org, jobs, db):
    """Normally the lifecycle keeps one current; should none be (an operator cleared it), a
    plain message is not guessed at: the agent is asked to choose."""
    zhang = org.agent("张三", "门店A", capacity=2)
    alice, bob = org.fan("alice", "门店A"), org.fan("bob", "门店A")
    alice.text("人工")
    bob.text("人工")
    jobs.run_all()
    db.execute(update(AgentState).values(current_conversation_id=None))
    db.commit()
    a, b = org.tag(alice)[1:-1], org.tag(bob)[1:-1]
    assert zhang.text("在吗") == f"请先选择会话：回复“切换 N”。\n您的会话（2）：\n1. {a}，未读 0\n2. {b}，未读 0"
    assert zhang.text("资料").startswith("请先选择会话")
    assert org.transcript(alice) == [] and org.transcript(bob) == []


def test_a_waiting_fan_who_ends_leaves_the_queue(org, jobs):
    org.agent("张三", "门店A", capacity=1)
    alice, bob = org.fan("alice", "门店A"), org.fan("bob", "门店A")
    alice.text("人工")
    bob.text("人工")
    assert bob.text("结束") == "您已退出排队。需要时请再回复“人工”。"
    assert org.conversation(bob).status == CLOSED
    assert bob.text("你好") == FALLBACK
