"""Issue #6 Build 5: WeChat's own kf system answers the fans of a kf-mode account (verified
service account, WECHAT-PLATFORM.md §4.10). The same capacity check picks the agent; the fan
gets a transfer_customer_service reply naming that agent's kf account (§3.4) and a job creates
the kf session; 61459 (kf offline) tries the next kf agent, then our relay, then the queue;
61458 (already served) and the kf_create/switch/close_session events (§3.3) are mirrored so
the agents' loads stay true."""
import pytest
from sqlalchemy import select

from bot.cs import kf
from bot.cs.lifecycle import Opened, open_conversation
from bot.dispatch import Dispatcher, Router
from bot.jobs import committed
from bot.routes import ROUTERS
from bot.telling import Teller
from models import Account, Fan

CREATE = "/customservice/kfsession/create"


@pytest.fixture
def account(make_account):
    return make_account(cs_mode="kf")


def kf_agents(team, world, *online):
    """门店A: 张三 (2, zhang@hq), 李四 (1, li@hq); 总部: 王五 (1, default, wang@hq); logged in
    to the kf tool: the ones named."""
    appid = team.account.appid
    for name, store, capacity, kf_account in (("张三", "A", 2, "zhang@hq"), ("李四", "A", 1, "li@hq"),
                                                ("王五", "HQ", 1, "wang@hq")):
        world.kf.add(appid, {"kf_account": kf_account, "nickname": name})
        world.set_kf_online(appid, kf_account, name in online)
        team.agent(name, store, capacity, default=name == "王五", kf_account=kf_account)
        team.clock.advance(minutes=1)
    team.jobs.run_all()


def open_by_api(team, name: str) -> Opened:
    """What the 人工 handler does, in a transaction of its own."""
    with committed(team.app) as (db, enqueue):
        account = db.get(Account, team.account.id)
        fan = db.scalar(select(Fan).where(Fan.openid == team.people[name].openid))
        tell = Teller(db, enqueue, team.clock.now()).tell
        opened = open_conversation(db, account, fan, team.clock.now(), tell, enqueue)
    team.jobs.run_all()
    return opened


def session_of(world, team, name: str) -> str:
    return world.kf.get_session(team.account.appid, team.people[name].openid)["kf_account"]


def test_the_chosen_agents_kf_account_gets_the_fan(team, world):
    kf_agents(team, world, "张三", "李四", "王五")
    team.fan("f1", "A")
    opened = open_by_api(team, "f1")
    assert (opened.agent.name, opened.kf_account) == ("张三", "zhang@hq")
    assert session_of(world, team, "f1") == "zhang@hq"
    assert [c["body"]["kf_account"] for c in world.calls(CREATE)] == ["zhang@hq"]
    c = team.conversation("f1")
    assert (c.mode, c.kf_account, c.status) == ("kf", "zhang@hq", "assigned")
    assert team.reasons("f1") == [("assigned", team.reasons("f1")[0][1])]
    assert team.reasons("f1")[0][1].startswith("门店A agent 张三: on shift, 0/2 open")
    assert any(t.startswith("新会话") and "请在客服工具中回复" in t for t in team.texts("张三"))


def test_a_kf_offline_is_skipped_for_the_next_kf_agent_then_relay(team, world):
    """61459 for 张三 → 李四 (the fan hears it); everyone offline → our relay, said so."""
    kf_agents(team, world, "李四")
    team.fan("f1", "A")
    open_by_api(team, "f1")
    assert team.agent_of("f1") == "李四" and session_of(world, team, "f1") == "li@hq"
    assert team.reasons("f1")[-1][1].startswith("kf zhang@hq offline (61459) → 门店A agent 李四")
    assert "客服 张三 暂时不在线，已为您转接客服 李四。" in team.texts("f1")
    assert team.load("张三") == 0 and team.load("李四") == 1

    team.fan("f2", "A")                       # 张三 offline, 李四 full, 王五 offline: relay
    open_by_api(team, "f2")
    c = team.conversation("f2")
    assert (c.mode, c.kf_account, team.agent_of("f2")) == ("relay", None, "张三")
    assert team.reasons("f2")[-1][1].startswith("kf agents offline (61459) → relay: 门店A agent 张三")
    assert "微信客服暂时不在线，已改由客服 张三 在公众号内为您服务，请直接发送您的问题。" in team.texts("f2")


def test_with_every_kf_offline_and_every_agent_full_the_fan_queues(team, world):
    kf_agents(team, world)
    for name in ("f1", "f2", "f3", "f4"):      # relay fills 张三 (2), 李四 (1), 王五 (1)
        team.fan(name, "A")
        open_by_api(team, name)
    assert [team.conversation(n).mode for n in ("f1", "f2", "f3", "f4")] == ["relay"] * 4
    team.fan("f5", "A")
    opened = open_by_api(team, "f5")
    assert opened.agent is None and opened.kf_account is None and opened.position == 1
    assert team.conversation("f5").status == "waiting"


def test_already_served_by_another_kf_is_mirrored(team, world):
    """61458: 王五 already has the fan in the kf tool; the conversation and the load follow."""
    kf_agents(team, world, "张三", "王五")
    team.fan("f1", "A")
    world.kf.create_session(team.account.appid, {"kf_account": "wang@hq", "openid": team.people["f1"].openid})
    open_by_api(team, "f1")
    assert team.agent_of("f1") == "王五" and team.conversation("f1").kf_account == "wang@hq"
    assert team.reasons("f1")[-1] == ("kf", "61458: already served by kf wang@hq")
    assert team.load("张三") == 0 and team.load("王五") == 1


def test_kf_events_are_mirrored_and_answered_with_nothing(team, world):
    kf_agents(team, world, "张三", "李四")
    fan = team.fan("f1", "A")
    reply = fan.event("kf_create_session", extra={"KfAccount": "li@hq"})
    assert reply.status == 200 and reply.fields is None
    assert team.agent_of("f1") == "李四" and team.load("李四") == 1
    assert team.reasons("f1") == [("kf", "kf_create_session: kf li@hq took the fan")]
    assert fan.event("kf_switch_session", extra={"FromKfAccount": "li@hq", "ToKfAccount": "zhang@hq"}).fields is None
    assert team.agent_of("f1") == "张三" and team.load("李四") == 0 and team.load("张三") == 1
    assert fan.event("kf_close_session", extra={"KfAccount": "zhang@hq"}).fields is None
    c = team.conversation("f1")
    assert (c.status, c.closed_by) == ("closed", "kf") and team.load("张三") == 0
    team.jobs.run_all()
    assert "客服已结束本次会话，感谢您的咨询。\n请为本次服务打分，回复 1-5" in team.texts("f1")
    assert world.calls("/customservice/kfsession/close") == []      # WeChat closed it already


def test_the_transfer_reply_names_the_kf_account_and_the_text_follows(app, team, world):
    """§3.4: transfer_customer_service with TransInfo/KfAccount (wechatpy's reply has none);
    a text the handler had for the fan cannot ride in it and goes as a customer-service message."""
    probe = Router("probe")
    probe.text("kf-probe")(lambda ctx, msg: kf.handoff("zhang@hq", "已为您转接人工客服"))
    app.extensions["dispatcher"] = Dispatcher([probe, *ROUTERS], strict=True)
    fan = team.fan("f1", "A")
    reply = fan.send("text", {"Content": "kf-probe"}, user_event="message")
    assert reply.type == "transfer_customer_service"
    assert reply.fields["TransInfo"] == {"KfAccount": "zhang@hq"}
    team.jobs.run_all()
    assert team.texts("f1")[-1] == "已为您转接人工客服"
    probe.text("kf-any")(lambda ctx, msg: kf.handoff(""))       # any kf: no TransInfo at all
    reply = fan.send("text", {"Content": "kf-any"}, user_event="message")
    assert reply.type == "transfer_customer_service" and "TransInfo" not in reply.fields


def test_closing_a_kf_conversation_ourselves_closes_the_kf_session(team, world, app):
    """The operator (or the idle sweep) ends it: kfsession/close for the agent who has the fan."""
    kf_agents(team, world, "张三")
    team.fan("f1", "A")
    open_by_api(team, "f1")
    assert session_of(world, team, "f1") == "zhang@hq"
    assert app.test_cli_runner().invoke(args=["cs", "close", str(team.conversation("f1").id)]).exit_code == 0
    team.jobs.run_all()
    assert session_of(world, team, "f1") == ""
    assert [c["body"]["kf_account"] for c in world.calls("/customservice/kfsession/close")] == ["zhang@hq"]
    assert team.load("张三") == 0


def test_a_kf_session_already_gone_is_what_closing_wanted(team, world, app):
    """61451 from kfsession/close (that kf no longer holds the fan: WeChat's own timeout, §4.10):
    the job ends quietly instead of retrying."""
    kf_agents(team, world, "张三")
    team.fan("f1", "A")
    open_by_api(team, "f1")
    world.fail_next("/customservice/kfsession/close", 61451)
    assert app.test_cli_runner().invoke(args=["cs", "close", str(team.conversation("f1").id)]).exit_code == 0
    team.jobs.run_all()
    retrying = sum(q.scheduled_job_registry.count for q in team.jobs.queues)
    assert (team.jobs.failed(), retrying) == (0, 0)
    assert len(world.calls("/customservice/kfsession/close")) == 1


def test_kf_mode_is_relay_where_the_account_may_not_use_kf(team, world, db):
    """§4.10/§5.1: only a verified service account has the kf interfaces; elsewhere we relay."""
    db.rollback()
    db.get(Account, team.account.id).verified = False
    db.commit()
    team.account.verified = False
    team.agent("张三", "A", 2, kf_account="zhang@hq")
    team.fan("f1", "A")
    opened = open_by_api(team, "f1")
    assert opened.kf_account is None and team.conversation("f1").mode == "relay"
    assert world.calls(CREATE) == []


def test_asking_for_a_person_on_a_kf_account_is_answered_with_the_transfer(team, world):
    """Through the webhook: 人工 → transfer_customer_service naming 张三's kf account; the
    greeting follows as a customer-service message; the job puts the fan with 张三 in WeChat."""
    kf_agents(team, world, "张三", "李四", "王五")
    fan = team.fan("f1", "A")
    reply = fan.send("text", {"Content": "人工"}, user_event="message")
    assert (reply.type, reply.fields["TransInfo"]) == ("transfer_customer_service", {"KfAccount": "zhang@hq"})
    team.jobs.run_all()
    assert session_of(world, team, "f1") == "zhang@hq"
    assert team.texts("f1")[-1].startswith("已为您接通门店A的客服张三")
    assert team.load("张三") == 1
