"""Issue #6 Build 4 through the webhook and the minute sweep: an agent who does not answer is
reminded at 5 minutes and loses the conversation to the next eligible agent at 10; an idle
conversation closes at 30 minutes with a note to both sides. Running the sweep twice changes
nothing more."""
from rq.cron import CronScheduler
from rq.utils import import_attribute
from sqlalchemy import select

from cs_support import cast
from models import Staff
from models.cs import Assignment
from workers import cs as cs_jobs


def reminders(team, name: str) -> list[str]:
    return [t for t in team.texts(name) if t.startswith("提醒：")]


def test_an_unanswered_conversation_is_reminded_then_offered_to_the_next_agent(team):
    cast(team)
    team.fan("f1", "A").text("人工")
    assert team.agent_of("f1") == "张三"
    c = team.conversation("f1")
    label = f"#{c.id} 粉丝#{c.fan_id} · 门店A"

    team.clock.advance(minutes=4, seconds=59)
    team.sweep()
    assert reminders(team, "张三") == []
    team.clock.advance(seconds=1)                         # 5 minutes without an answer
    team.sweep()
    team.sweep()
    assert reminders(team, "张三") == [f"提醒：会话 {label} 还在等您回复，分配后 10 分钟未回复将转给其他有空的客服。"]

    team.clock.advance(minutes=5)                         # 10 minutes: the next eligible agent
    team.sweep()
    assert team.agent_of("f1") == "李四"
    assert team.reasons("f1")[-1] == ("reassigned", "张三 did not answer in 10 min → 门店A agent 李四: on shift, "
                                                    "0/1 open, idle since 11-23 18:01")
    assert f"会话 {label} 10 分钟未回复，已转给 李四。" in team.texts("张三")
    assert any(t.startswith(f"新会话 {label}（张三 10 分钟未回复，转给您）") for t in team.texts("李四"))
    assert "已为您换由客服 李四 服务，请稍候。" in team.texts("f1")
    assert team.load("张三") == 0 and team.load("李四") == 1

    team.sweep()                                          # again: nothing more happens
    assert len(team.reasons("f1")) == 2 and team.agent_of("f1") == "李四"

    team.people["李四"].text("您好，请问有什么可以帮您？")      # the new agent answers in time
    team.clock.advance(minutes=30)
    team.people["f1"].text("我想改签")
    team.sweep()
    assert team.agent_of("f1") == "李四" and len(team.reasons("f1")) == 2


def test_with_nobody_else_eligible_the_conversation_stays(team):
    """Only 张三 can serve 门店A (李四 and the default agent are off shift): it stays with him,
    however often the sweep looks."""
    team.agent("张三", "A", 2)
    team.agent("李四", "A", 1, shift=False)
    team.agent("王五", "HQ", 1, default=True, shift=False)
    team.agent("赵六", "B", 1)                             # another store's agent is not eligible
    team.fan("f1", "A").text("人工")
    team.clock.advance(minutes=11)
    team.sweep()
    team.sweep()
    assert team.agent_of("f1") == "张三"
    assert [kind for kind, _ in team.reasons("f1")] == ["assigned"]
    assert len(reminders(team, "张三")) == 1


def test_an_idle_conversation_closes_with_a_note_to_both_sides(team):
    cast(team)
    fan = team.fan("f1", "A")
    fan.text("人工")
    team.people["张三"].text("您好")
    team.clock.advance(minutes=20)
    fan.text("我再想想")                                   # activity moves the idle clock
    team.clock.advance(minutes=29, seconds=59)
    team.sweep()
    assert team.conversation("f1").status == "assigned"
    team.clock.advance(seconds=1)
    team.sweep()
    c = team.conversation("f1")
    assert (c.status, c.closed_by) == ("closed", "idle")
    assert "会话已超过 30 分钟没有新消息，已自动结束。需要时请再回复“人工”。\n请为本次服务打分，回复 1-5" in team.texts("f1")
    assert f"会话 #{c.id} 粉丝#{c.fan_id} · 门店A 长时间没有新消息，已自动结束。" in team.texts("张三")
    before = (team.texts("f1"), team.texts("张三"))
    team.sweep()
    assert (team.texts("f1"), team.texts("张三")) == before
    assert team.load("张三") == 0


def test_a_fan_waiting_in_the_queue_too_long_is_told_and_the_timeouts_are_configurable(team, app):
    app.config["CS_IDLE_CLOSE_MINUTES"] = 15
    team.agent("张三", "A", 1)
    team.fan("f1", "A").text("人工")
    team.fan("f2", "A").text("人工")                      # waits: 张三 is full
    team.clock.advance(minutes=15)
    team.people["张三"].text("在的")                        # f1 is answered...
    team.people["f1"].text("好的")                          # ...and active; f2 has waited 15 min
    team.sweep()
    assert team.conversation("f1").status == "assigned"
    assert (team.conversation("f2").status, team.conversation("f2").closed_by) == ("closed", "idle")
    assert "排队已超过 15 分钟，暂时没有客服接入，会话已结束。需要时请再回复“人工”。" in team.texts("f2")
    team.db.rollback()
    assert team.db.scalars(select(Assignment.kind).where(
        Assignment.conversation_id == team.conversation("f2").id)).all() == ["queued"]


def test_room_from_a_capacity_change_is_used_by_the_next_sweep(team):
    """The roster raises 张三's capacity (an import, an SQL edit): the sweep drains the queue."""
    team.agent("张三", "A", 1)
    team.fan("f1", "A").text("人工")
    team.fan("f2", "A").text("人工")
    assert team.agent_of("f2") is None
    team.db.rollback()
    team.db.get(Staff, team.staff_ids["张三"]).capacity = 2
    team.db.commit()
    team.sweep()
    assert team.agent_of("f2") == "张三"
    assert "客服 张三 已为您服务，请直接发送您的问题。" in team.texts("f2")


def test_the_sweep_runs_every_minute_on_the_cron_scheduler(redis):
    scheduler = CronScheduler(connection=redis)
    scheduler.load_config_from_file("workers.schedule")
    registered = {job.func_name: (job.queue_name, job.interval) for job in scheduler.get_jobs()}
    assert registered["workers.cs.sweep"] == ("high", 60)
    assert import_attribute("workers.cs.sweep") is cs_jobs.sweep
