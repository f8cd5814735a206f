"""Issue #6 Build 6: `flask --app wsgi cs list|transcript|agents|close|kf-account|mode`. The
server operator sees everything; with --as PHONE a store manager sees their store's
conversations, an agent the ones they had, anyone else nothing. Phones are masked."""
import pytest
from sqlalchemy import select

from cs_support import cast
from models import Account, Member, Staff
from models.cs import AgentState

FAN_PHONE = "13812345678"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["cs", *args])


@pytest.fixture
def scene(team):
    """f1 (a member, 门店A) talks with 张三; f2 (门店B) waits for 赵六's answer; f3 (门店A)
    had 李四 and closed. A manager of 门店A and a guide are on the roster."""
    cast(team)
    f1 = team.fan("f1", "A")
    fan = team.fan_row(f1)
    member = Member(phone=FAN_PHONE, level="")
    team.db.add(member)
    team.db.flush()
    fan.member_id = member.id
    team.db.commit()
    f1.text("人工")
    f1.text(f"我的手机是 {FAN_PHONE}，订单改一下日期")
    team.people["张三"].text("好的，马上处理")
    team.fan("f2", "B").text("人工")
    f3 = team.fan("f3", "A")
    f3.text("人工")
    f3.text("结束")
    for phone, roles, store in (("13900000001", "manager", "A"), ("13900000002", "guide", "A")):
        team.db.add(Staff(phone=phone, name=roles, store_id=team.store(store), roles=roles))
    team.db.commit()
    return {n: team.conversation(n).id for n in ("f1", "f2", "f3")}


def phone_of(team, name):
    team.db.rollback()
    return team.db.get(Staff, team.staff_ids[name]).phone


def listed(output: str) -> list[int]:
    return sorted(int(line.split()[0][1:]) for line in output.splitlines() if line.startswith("#"))


def test_the_operator_sees_every_conversation_phones_masked(cli, scene):
    out = cli("list")
    assert out.exit_code == 0, out.output
    assert listed(out.output) == sorted(scene.values())
    assert "138****5678" in out.output and FAN_PHONE not in out.output
    assert listed(cli("list", "--store", "A", "--open").output) == [scene["f1"]]
    assert listed(cli("list", "--account", "hq", "--store", "B").output) == [scene["f2"]]
    assert "no store ZZ" in cli("list", "--store", "ZZ").output


def test_a_manager_sees_their_store_an_agent_their_own_anyone_else_nothing(cli, scene, team):
    assert listed(cli("list", "--as", "13900000001").output) == sorted([scene["f1"], scene["f3"]])
    assert listed(cli("list", "--as", phone_of(team, "张三")).output) == [scene["f1"]]
    assert listed(cli("list", "--as", phone_of(team, "李四")).output) == [scene["f3"]]
    for stranger in ("13900000002", "13000000000", "not-a-phone"):
        out = cli("list", "--as", stranger)
        assert out.exit_code != 0 and "not allowed" in out.output and "#" not in out.output
    out = cli("transcript", str(scene["f2"]), "--as", "13900000001")
    assert out.exit_code != 0 and "not allowed" in out.output
    assert cli("transcript", str(scene["f1"]), "--as", phone_of(team, "张三")).exit_code == 0


def test_a_transcript_shows_who_had_it_and_why_and_every_message(cli, scene):
    out = cli("transcript", str(scene["f1"]))
    assert out.exit_code == 0, out.output
    text = out.output
    assert "138****5678" in text and FAN_PHONE not in text
    assert "assigned    张三     门店A agent 张三: on shift, 0/2 open" in text
    assert "顾客: 我的手机是 138****5678，订单改一下日期" in text
    assert "客服 张三: 好的，马上处理" in text
    closed = cli("transcript", str(scene["f3"])).output
    assert ", closed 2026-11-23 18:04:00 by fan" in closed and "系统: 会话结束（fan）" in closed
    assert "no conversation 999" in cli("transcript", "999").output


def test_agents_close_kf_account_and_mode(cli, scene, team, db):
    out = cli("agents", "--account", "hq").output
    assert "张三" in out and "on shift  1/2" in out and "default" in out
    assert cli("close", str(scene["f1"])).exit_code == 0
    team.jobs.run_all()
    assert "本次会话已结束。\n请为本次服务打分，回复 1-5" in team.texts("f1")
    assert "closed already" in cli("close", str(scene["f1"])).output

    assert "prefix@wechat-id" in cli("kf-account", phone_of(team, "张三"), "not a kf").output
    assert cli("kf-account", phone_of(team, "张三"), "zhang@hq").exit_code == 0
    db.rollback()
    assert db.get(AgentState, team.staff_ids["张三"]).kf_account == "zhang@hq"
    assert cli("mode", "--account", "hq", "kf").exit_code == 0
    db.rollback()
    assert db.scalar(select(Account.cs_mode).where(Account.slug == "hq")) == "kf"


def test_kf_mode_needs_a_verified_service_account(cli, make_account):
    make_account(slug="sub", appid="wx5ub0000000000009", type="subscription", original_id="gh_sub9")
    out = cli("mode", "--account", "sub", "kf")
    assert out.exit_code != 0 and "verified service account" in out.output
