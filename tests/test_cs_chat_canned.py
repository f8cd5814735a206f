"""Canned replies (快捷 N, issue #6 Build 2): the operator's `cs canned add|list`, and the agent
sending one as their own message to the fan of the current conversation."""
import pytest
from sqlalchemy import select

from models import CannedReply


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["cs", "canned", *args])


def test_add_replace_and_list(cli, org, db):
    """Per store or for every store; the same number again replaces the text."""
    org.store("门店A")
    assert cli("add", "--store", "S1", "1", "门店A 营业时间 9:00-18:00").output.strip() == \
        "added canned reply 1 for store S1"
    assert cli("add", "2", "感谢您的耐心等待").output.strip() == "added canned reply 2 for every store"
    assert cli("add", "1", "全部门店通用的第一条").exit_code == 0
    assert cli("add", "--store", "S1", "1", "门店A 营业时间 9:00-21:00").output.strip() == \
        "replaced canned reply 1 for store S1"
    db.rollback()
    assert db.scalar(select(CannedReply.text).where(CannedReply.store_id.is_not(None))) == "门店A 营业时间 9:00-21:00"

    everything = cli("list").output.splitlines()
    assert [line.split()[:2] for line in everything] == [["*", "1"], ["*", "2"], ["S1", "1"]]
    for_store = cli("list", "--store", "S1").output.splitlines()
    assert [line.split()[:3] for line in for_store] == [["S1", "1", "门店A"], ["*", "2", "感谢您的耐心等待"]]


@pytest.mark.parametrize("args, message", [
    (["--store", "NOPE", "1", "你好"], "no store with code NOPE"),
    (["0", "你好"], "0 is not in the range"),
    (["100", "你好"], "100 is not in the range"),
    (["1", "   "], "the text is empty"),
    (["1", "长" * 700], "over 2048 bytes"),
    (["x", "你好"], "not a valid integer"),
])
def test_bad_input_is_named_and_nothing_is_written(cli, org, db, args, message):
    org.store("门店A")
    result = cli("add", *args)
    assert result.exit_code != 0 and message in result.output
    db.rollback()
    assert db.scalars(select(CannedReply)).all() == []


def test_list_says_when_there_are_none(cli, org):
    assert cli("list").output.strip() == "no canned replies"


def test_the_agent_sends_the_stores_canned_reply_as_their_own_message(cli, org, jobs):
    """快捷 lists what this conversation's store offers; 快捷 N sends reply N to the fan and
    it is the agent's message in the transcript; an unknown number is said, not sent."""
    zhang = org.agent("张三", "门店A")
    alice = org.fan("alice", "门店A")
    cli("add", "--store", "S1", "1", "门店A 营业时间 9:00-21:00")
    cli("add", "1", "通用第一条")
    cli("add", "2", "感谢您的耐心等待")
    alice.text("人工")
    jobs.run_all()

    assert zhang.text("快捷") == ("快捷回复（回复“快捷 N”发送给顾客）：\n1. 门店A 营业时间 9:00-21:00\n"
                                 "2. 感谢您的耐心等待")
    assert zhang.text("快捷 1") == "已发送快捷回复 1：门店A 营业时间 9:00-21:00"
    assert zhang.text("快捷2") == "已发送快捷回复 2：感谢您的耐心等待"
    assert zhang.text("快捷 7").startswith("没有第 7 条快捷回复。")
    jobs.run_all()

    assert org.texts(alice)[-2:] == ["门店A 营业时间 9:00-21:00", "感谢您的耐心等待"]
    assert [row[2] for row in org.transcript(alice)] == ["门店A 营业时间 9:00-21:00", "感谢您的耐心等待"]
    assert org.conversation(alice).answered_at is not None
