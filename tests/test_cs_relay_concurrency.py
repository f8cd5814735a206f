"""The fan and the agent writing at the same instant while the fan's queued messages are still
on their way to the agent: each of them reaches the agent once, in order (the conversation's
row lock on PostgreSQL, BEGIN IMMEDIATE on SQLite; bot/cs/relay.py)."""
import pytest
from concurrency_support import at_once
from cs_support import pieces

from bot.cs.lifecycle import assign_waiting
from bot.jobs import committed
from bot.telling import Teller
from models import AgentState


def assign_without_relaying(app, account, now) -> None:
    """The queue gives carol to 张三 in a transaction that relays nothing (as an assignment
    whose relay has not happened yet: the drain job relays right after, in the same job)."""
    with app.app_context(), committed(app) as (session, enqueue):
        tell = Teller(session, enqueue, now).tell
        assign_waiting(session, account.id, now, tell, enqueue)


@pytest.mark.parametrize("round_", range(3))
def test_a_fan_and_the_agent_racing_over_the_backlog_send_each_message_once(org, jobs, db, app, account,
                                                                            clock, round_):
    """carol waits and writes twice; the queue gives her to 张三 (her messages not yet relayed);
    then carol's third message and 张三's 列表 arrive together."""
    zhang = org.agent("张三", "门店A", shift=False)
    carol = org.fan("carol", "门店A")
    carol.text("人工")
    carol.text("第一句")
    carol.text("第二句")
    db.add(AgentState(staff_id=org.staff["张三"], on_shift=True))     # on shift behind the chat's back
    db.commit()
    assign_without_relaying(app, account, clock.now())
    jobs.run_all()
    tag = org.tag(carol)
    before = org.texts(zhang)
    assert org.conversation(carol).agent_id == org.staff["张三"]
    assert not any(t.startswith(tag) for t in before)

    fan_reply, agent_reply = at_once([lambda: carol.text("第三句"), lambda: zhang.text("列表")])
    jobs.run_all()

    after = org.texts(zhang)[len(before):]
    got = [p for p in [*pieces(agent_reply), *after] if p.startswith(tag)]
    assert got == [f"{tag}第一句", f"{tag}第二句", f"{tag}第三句"]     # his reply first, then the rest
    assert fan_reply is None
