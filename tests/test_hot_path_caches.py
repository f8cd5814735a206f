"""The hot path's caches only ever say "maybe" (bot/facts.py): whatever is written behind a quiet
fan's back (a pending message, a conversation, a staff row, a keyword) reaches them on their next
push; a writer that dies between its flag and its commit, or after its commit, costs a query,
never a message; losing Redis loses no message and no conversation."""
import os
from datetime import datetime, timezone

import pytest
from cost_support import counting
from sqlalchemy import select

from bot import keys
from bot.jobs import JobBuffer
from bot.telling import Teller
from handlers.common import FALLBACK
from handlers.cs import WAITING_NOTE
from models import Company, Event, Fan, KeywordReply, Member, OutboundMessage, Staff, Store
from models.keyword import EXACT
from models.outbound import SENT


@pytest.fixture
def quiet_fan(phone, app, clock, monkeypatch):
    """alice, known and checked quiet: her common push costs one statement (the event row)."""
    alice = phone("alice")
    assert alice.text("你好") == FALLBACK    # the fan row is made and checked after its own write
    clock.advance(seconds=1)
    assert sql_of(app, monkeypatch, lambda: alice.text("在吗")) == ["INSERT INTO event"]
    return alice


def sql_of(app, monkeypatch, push) -> list[str]:
    with counting(monkeypatch, app) as cost:
        push()
    return cost.sql


def pending_for_alice(db, account, text: str, commit: bool = True) -> None:
    """What a job or another fan's push does: a text kept pending for alice, in its own session."""
    Teller(db, JobBuffer(), datetime.now(timezone.utc)).tell((account.id, alice_openid(account)), text)
    if commit:
        db.commit()


def alice_openid(account) -> str:
    from bot.sandbox.phone import sandbox_openid
    return sandbox_openid(account.slug, "alice")


def statuses(db) -> list[tuple[str, str]]:
    db.expire_all()
    return [(r.content, r.status) for r in db.scalars(select(OutboundMessage).order_by(OutboundMessage.id))]


def test_another_writer_during_a_new_fans_first_push_keeps_the_next_push_checking(phone, app, account,
                                                                                 clock, monkeypatch):
    """The first push counts only its own bumps: a writer that flags the fan meanwhile (here
    between the push's check and its close) still sends the next push to the database."""
    from bot import pipeline
    real = pipeline.quiet_in_db

    def checked_while_another_writer_flags(db, account_id, fan):
        app.extensions["redis"].hincrby(keys.fan_facts(account_id, fan.openid), "gen", 1)
        return real(db, account_id, fan)

    monkeypatch.setattr(pipeline, "quiet_in_db", checked_while_another_writer_flags)
    alice = phone("alice")
    assert alice.text("你好") == FALLBACK
    monkeypatch.undo()
    clock.advance(seconds=1)
    assert len(sql_of(app, monkeypatch, lambda: alice.text("在吗"))) > 1       # checked again
    clock.advance(seconds=1)
    assert sql_of(app, monkeypatch, lambda: alice.text("在吗")) == ["INSERT INTO event"]


def test_a_message_left_pending_behind_a_quiet_fans_back_rides_on_their_next_reply(quiet_fan, db, account):
    pending_for_alice(db, account, "您的积分已到账")
    assert quiet_fan.text("你好") == f"您的积分已到账\n\n{FALLBACK}"
    assert statuses(db) == [("您的积分已到账", SENT)]


def test_a_writer_dying_between_its_flag_and_its_commit_costs_one_check(quiet_fan, app, db, account,
                                                                      clock, monkeypatch):
    """The flush flagged the fan, then the process died: nothing committed, nothing to deliver;
    the next push reads the database once and the fan is quiet again after it."""
    pending_for_alice(db, account, "不会送达", commit=False)   # flushed: the flag is set
    db.rollback()                                            # the crash: no commit
    clock.advance(seconds=1)
    checked = sql_of(app, monkeypatch, lambda: quiet_fan.text("你好"))
    assert len(checked) > 1 and "INSERT INTO event" in checked
    clock.advance(seconds=1)
    assert sql_of(app, monkeypatch, lambda: quiet_fan.text("你好")) == ["INSERT INTO event"]
    assert statuses(db) == []


def test_a_writer_dying_after_its_commit_still_flagged_the_fan_before_it(quiet_fan, db, account, monkeypatch):
    """The second flag (after the commit) never came: the first one (at the flush) suffices."""
    from bot import facts
    monkeypatch.setattr(facts, "_after_commit", lambda session: session.info.pop(facts.TOUCHED, None))
    pending_for_alice(db, account, "已提交的消息")
    monkeypatch.undo()
    assert quiet_fan.text("你好") == f"已提交的消息\n\n{FALLBACK}"


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                    reason="on SQLite the push's BEGIN IMMEDIATE waits for the writer's commit: no race")
def test_a_reader_who_checked_before_a_writer_committed_does_not_clear_the_flag(quiet_fan, app, db, account,
                                                                               clock, monkeypatch):
    """The writer flushes (flag), the fan's push reads the database (nothing yet, uncommitted)
    and stores 'quiet', then the writer commits: its second flag undoes that 'quiet'."""
    app.extensions["redis"].hincrby(keys.fan_facts(account.id, alice_openid(account)), "gen", 1)
    pending_for_alice(db, account, "竞争中的消息", commit=False)
    clock.advance(seconds=1)
    assert quiet_fan.text("你好") == FALLBACK        # read before the commit: not there yet
    db.commit()
    clock.advance(seconds=1)
    assert quiet_fan.text("你好") == f"竞争中的消息\n\n{FALLBACK}"


def test_losing_redis_loses_no_message_and_no_conversation(quiet_fan, app, db, account, clock):
    assert quiet_fan.text("人工") is not None           # a conversation opens (waiting: no agent)
    pending_for_alice(db, account, "排队期间的通知")
    redis = app.extensions["redis"]
    for key in redis.scan_iter():                        # our Redis lost (the sandbox plays WeChat,
        if not key.startswith(b"sandbox:"):              # whose state stays): every cache, flag,
            redis.delete(key)                            # conversation state and window gone
    clock.advance(seconds=1)
    answer = quiet_fan.text("我的订单有问题")
    assert answer.startswith("排队期间的通知") and WAITING_NOTE in answer   # kept for the agent
    events = db.scalars(select(Event.outcome).where(Event.openid == alice_openid(account))).all()
    assert events and set(events) == {"ok"}


def test_a_keyword_added_after_the_list_was_cached_answers_at_once(quiet_fan, app, db, account, clock):
    quiet_fan.text("营业时间")                            # the (empty) list is cached now
    db.add(KeywordReply(account_id=account.id, keyword="营业时间", match=EXACT, reply="每天 9:00-18:00"))
    db.commit()
    clock.advance(seconds=1)
    assert quiet_fan.text("营业时间") == "每天 9:00-18:00"
    db.delete(db.scalar(select(KeywordReply)))
    db.commit()
    clock.advance(seconds=1)
    assert quiet_fan.text("营业时间") == FALLBACK


def test_a_quiet_member_who_becomes_an_agent_is_answered_as_one(quiet_fan, app, db, account, clock):
    """A staff row behind the member changes who they are: the staff epoch flags every fan."""
    member = Member(phone="13800000001")
    db.add(member)
    db.flush()
    fan = db.scalar(select(Fan).where(Fan.openid == alice_openid(account)))
    fan.member_id = member.id                            # through the ORM: the fan is flagged
    db.commit()
    clock.advance(seconds=1)
    assert quiet_fan.text("你好") == FALLBACK            # a member, checked: no staff row
    company = Company(code="C1", name="公司")
    db.add(company)
    db.flush()
    store = Store(code="S1", name="门店A", company_id=company.id)
    db.add(store)
    db.flush()
    db.add(Staff(phone=member.phone, name="小李", store_id=store.id, roles="agent", member_id=member.id))
    db.commit()
    clock.advance(seconds=1)
    assert quiet_fan.text("下班") != FALLBACK            # an agent's command, not the fallback


def test_sending_what_was_pending_keeps_the_fan_checked_and_a_failed_send_does_not(
        quiet_fan, app, db, account, clock, monkeypatch):
    """A row leaving PENDING (claimed, sent) cannot make "nothing pending" wrong, so it bumps
    nothing; a row put back into PENDING is a pending message like a new one."""
    from models.outbound import PENDING, SENDING
    pending_for_alice(db, account, "您的积分已到账")
    assert quiet_fan.text("你好") == f"您的积分已到账\n\n{FALLBACK}"     # checked again after it
    facts = keys.fan_facts(account.id, alice_openid(account))
    gen = app.extensions["redis"].hget(facts, "gen")
    row = db.scalars(select(OutboundMessage)).one()
    row.status = SENDING                  # what a delivery's claim does, then its settle
    db.commit()
    row.status = SENT
    db.commit()
    assert app.extensions["redis"].hget(facts, "gen") == gen
    clock.advance(seconds=1)
    assert sql_of(app, monkeypatch, lambda: quiet_fan.text("在吗")) == ["INSERT INTO event"]
    row.status = PENDING                  # a send that failed: the row waits again
    db.commit()
    assert app.extensions["redis"].hget(facts, "gen") != gen
    clock.advance(seconds=1)
    assert quiet_fan.text("你好") == f"您的积分已到账\n\n{FALLBACK}"
