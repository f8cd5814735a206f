"""What a fan wrote before an agent had them reaches the agent once, in order (issue #6 Build 2):
written while waiting in the queue, or to an agent who never answered and lost the conversation
to another. The fan's messages are never sent twice, to anyone."""
from cs_support import pieces

from handlers.cs import NO_CONVERSATION, WAITING_NOTE
from tests.conftest import later


def run_sweep(app, jobs) -> None:
    """The minute sweep (workers/cs.py), as the scheduler would run it, and what it queued."""
    app.extensions["jobs"].queue("default").enqueue("workers.cs.sweep")
    jobs.run_all()


def test_the_first_agent_on_shift_gets_the_waiting_fan_and_what_they_wrote(org, jobs):
    """Nobody on shift: alice waits; 张三's 上班 brings him her conversation, then her messages
    in order, then the answer to 上班, all in one reply."""
    zhang = org.agent("张三", "门店A", shift=False)
    alice = org.fan("alice", "门店A")
    assert alice.text("人工").startswith("客服繁忙，您前面还有 0 位")
    assert alice.text("第一句") == WAITING_NOTE
    assert alice.text("第二句") == WAITING_NOTE

    reply = pieces(zhang.text("上班"))
    jobs.run_all()

    tag = org.tag(alice)
    assert reply[0].startswith("新会话")
    assert reply[1:3] == [f"{tag}第一句", f"{tag}第二句"]
    assert reply[3].startswith("已上班，开始接待新会话。")
    assert any("张三" in t for t in org.texts(alice))
    assert zhang.text("列表").startswith("您的会话（1）")
    assert [t for t in org.texts(zhang) if t.startswith(tag)] == []       # nothing went twice


def test_a_reassigned_conversation_brings_the_new_agent_what_the_old_one_never_read(org, jobs, clock, app):
    """张三 does not answer for 10 minutes: the sweep gives alice to 李四, and with it the message
    张三 never read; alice's next one follows; 张三 gets nothing more."""
    zhang = org.agent("张三", "门店A", capacity=1)
    alice = org.fan("alice", "门店A")
    alice.text("人工")
    alice.text("有人吗")
    jobs.run_all()
    li = org.agent("李四", "门店A", capacity=1)
    tag = org.tag(alice)
    assert org.texts(zhang)[-1] == f"{tag}有人吗"

    later(clock, minutes=11)
    run_sweep(app, jobs)
    assert org.conversation(alice).agent_id == org.staff["李四"]
    assert [t for t in org.texts(li) if t.startswith(tag)] == [f"{tag}有人吗"]     # by the sweep
    alice.text("还在吗")
    jobs.run_all()

    assert [t for t in org.texts(li) if t.startswith(tag)] == [f"{tag}有人吗", f"{tag}还在吗"]
    assert [t for t in org.texts(zhang) if t.startswith(tag)] == [f"{tag}有人吗"]
    assert zhang.text("列表") == NO_CONVERSATION


def test_after_the_queue_hands_a_fan_over_in_a_job_the_backlog_follows_at_once(org, jobs, clock, app):
    """alice's conversation idles out (the sweep closes it and the queue job gives carol to
    张三); carol's queued messages reach 张三 from that job, once, not waiting for his next push."""
    zhang = org.agent("张三", "门店A", capacity=1)
    alice, carol = org.fan("alice", "门店A"), org.fan("carol", "门店A")
    alice.text("人工")
    later(clock, minutes=20)
    carol.text("人工")
    carol.text("我排队好久了")
    jobs.run_all()
    later(clock, minutes=11)
    run_sweep(app, jobs)
    assert org.conversation(carol).agent_id == org.staff["张三"]
    tag = org.tag(carol)
    assert [t for t in org.texts(zhang) if t.startswith(tag)] == [f"{tag}我排队好久了"]    # by the job

    reply = pieces(zhang.text("列表"))
    jobs.run_all()
    tag = org.tag(carol)
    delivered = [t for t in org.texts(zhang) + reply if t.startswith(tag)]
    assert delivered == [f"{tag}我排队好久了"]
