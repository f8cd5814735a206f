"""Within WeChat's limits, losing nothing (issue #6, Build 3 and the Must show): a burst of a
fan's messages while the agent's customer-service budget is used up (5 per 48 h after a
message; 45047 or 45015 from WeChat: WECHAT-PLATFORM.md §4.7) brings one template notice, and
the agent's next message or command pulls everything: in its passive reply, and by
customer-service messages (the agent's push opened a fresh window) what does not fit. Every
message arrives once, in order."""
import pytest
from cs_support import CUSTOM_SEND, pieces, send_image

from handlers.cs import NO_CONVERSATION
from tests.conftest import later

LONG = "长" * 400          # 1 200 bytes: two never share one message (the limit is 2048)


def setup(org, clock, jobs):
    """张三 serves alice; the follow's one-minute window is over, 张三's message window has
    4 messages left after the 新会话 notice."""
    zhang = org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    later(clock, minutes=2)
    assert zhang.text("列表") == NO_CONVERSATION        # his 5-per-48-h window starts now
    alice.text("人工")
    jobs.run_all()
    assert any("新会话" in t for t in org.texts(zhang))
    return zhang, alice


def notices(org, person) -> int:
    return len(org.inbox(person, "template"))


def relayed(org, person, tag: str, earlier: list[str] | None = None, passive: list[str] = ()) -> list[str]:
    """Every fan message the agent got, in the order it reached them, label removed: the
    customer-service texts before their push (`earlier`), its passive reply, the ones after."""
    now = org.texts(person)
    if earlier is None:
        earlier = now
    got = [p for p in [*earlier, *passive, *now[len(earlier):]] if p.startswith(tag)]
    return [p[len(tag):] for p in got]


@pytest.mark.parametrize("ended_by", ["count", "45047", "45015"])
def test_a_burst_while_the_agents_budget_is_used_up_arrives_once_in_order(org, jobs, world, clock, account,
                                                                          ended_by):
    zhang, alice = setup(org, clock, jobs)
    if ended_by != "count":
        world.fail_next(CUSTOM_SEND, int(ended_by), times=1, appid=account.appid)
    sent = [f"第 {i} 条" for i in range(1, 13)]
    for text in sent:
        assert alice.text(text) is None
        jobs.run_all()
    assert notices(org, zhang) == 1
    tag = org.tag(alice)
    earlier = org.texts(zhang)
    before = relayed(org, zhang, tag)
    assert before == sent[:len(before)] and len(before) < len(sent)

    reply = pieces(zhang.text("马上为您查询"))          # his message goes to alice; his reply pulls
    jobs.run_all()

    assert relayed(org, zhang, tag, earlier, reply) == sent      # every one, in order, none twice
    assert notices(org, zhang) == 1
    assert org.texts(alice)[-1] == "马上为您查询"


def test_what_does_not_fit_in_the_passive_reply_follows_by_customer_service_messages(org, jobs, world,
                                                                                        clock, account):
    """Six long messages: the command's reply carries what fits with its own answer; the rest
    leave right away in the window the agent's push opened."""
    zhang, alice = setup(org, clock, jobs)
    world.fail_next(CUSTOM_SEND, 45047, times=1, appid=account.appid)
    sent = [f"{i} {LONG}" for i in range(1, 7)]
    for text in sent:
        alice.text(text)
        jobs.run_all()
    assert notices(org, zhang) == 1
    tag = org.tag(alice)

    earlier = org.texts(zhang)
    assert relayed(org, zhang, tag) == []
    reply = pieces(zhang.text("列表"))
    assert reply[-1].startswith("您的会话（1）")           # the command's own answer comes last
    carried = relayed(org, zhang, tag, earlier, reply)
    jobs.run_all()

    assert 1 <= len(carried) < len(sent)
    assert relayed(org, zhang, tag, earlier, reply) == sent
    assert notices(org, zhang) == 1


def test_an_image_in_the_burst_keeps_its_place(org, jobs, world, clock, account):
    """The passive reply stops before the image; the image (by media id) and what followed it
    leave by customer-service messages, in order."""
    zhang, alice = setup(org, clock, jobs)
    picture = org.upload("image")
    world.fail_next(CUSTOM_SEND, 45047, times=1, appid=account.appid)
    alice.text("先看这个")
    send_image(alice, picture)
    alice.text("就是这张")
    jobs.run_all()
    tag = org.tag(alice)

    reply = pieces(zhang.text("好的"))
    jobs.run_all()

    assert reply == [f"{tag}先看这个", f"{tag}[图片]"]
    after = [(m["msgtype"], m["content"] or m["payload"]["image"]["media_id"]) for m in org.inbox(zhang)][-2:]
    assert after == [("image", picture), ("text", f"{tag}就是这张")]


def test_the_fans_next_message_pulls_what_the_agent_sent_past_the_fans_budget(org, jobs, world, clock,
                                                                              account):
    """The same rule the other way: alice's window is closed (45015); 张三's answers wait, one
    notice tells her, and her next message gets them all, in order."""
    zhang, alice = setup(org, clock, jobs)
    world.fail_next(CUSTOM_SEND, 45015, times=1, appid=account.appid)
    answers = [f"回复 {i}" for i in range(1, 6)]
    for text in answers:
        zhang.text(text)
        jobs.run_all()
    assert notices(org, alice) == 1
    reply = pieces(alice.text("在吗"))
    jobs.run_all()
    got = [p for p in org.texts(alice) + reply if p.startswith("回复")]
    assert got == answers
    assert notices(org, alice) == 1
