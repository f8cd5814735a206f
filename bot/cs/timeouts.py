"""Timeouts, run by the minute sweep (workers/cs.py), each idempotent.

  idle      an open conversation with no fan or agent message for CS_IDLE_CLOSE_MINUTES (30)
            closes, with a note to both sides (a fan still waiting in the queue is told too).
  remind    an agent who has not answered a new assignment within CS_REMIND_MINUTES (5) gets
            one reminder (Conversation.reminded_at).
  reassign  after CS_REASSIGN_MINUTES (10) without an answer the conversation goes to the next
            eligible agent (same rules, the old agent excluded; the old agent is told); if
            nobody else is eligible it stays (its agent reminded, if not yet), and the next
            sweep looks again.
Each action re-reads its conversation under a lock and re-checks its condition, so a second
sweep (or two at once) finds nothing left to do. kf-mode conversations are WeChat's to time
out once assigned: we see neither side's messages there (WECHAT-PLATFORM.md §4.10).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cs.agents import refresh_current
from bot.cs.assign import REASSIGNED, Pool
from bot.cs.labels import label
from bot.cs.lifecycle import Tell, close_conversation, locked, tell_agent
from models import Fan, Staff
from models.cs import ASSIGNED, CLOSED, KF, RELAY, WAITING, Conversation

IDLE, REMIND, REASSIGN = "idle", "remind", "reassign"


@dataclass(frozen=True)
class Limits:
    idle: timedelta
    remind: timedelta
    reassign: timedelta

    @classmethod
    def from_config(cls, config: Mapping) -> "Limits":
        return cls(timedelta(minutes=config["CS_IDLE_CLOSE_MINUTES"]),
                   timedelta(minutes=config["CS_REMIND_MINUTES"]),
                   timedelta(minutes=config["CS_REASSIGN_MINUTES"]))


def due(db: Session, now: datetime, limits: Limits) -> list[tuple[str, int]]:
    """(action, conversation id) for everything due now, idle closes first."""
    open_ = Conversation.status != CLOSED
    idle = db.scalars(select(Conversation.id).where(
        open_, Conversation.last_activity_at <= now - limits.idle,
        (Conversation.mode == RELAY) | (Conversation.status == WAITING)).order_by(Conversation.id)).all()
    # `status <> 'closed'` is the open-conversation index's own predicate (models/cs.py): the
    # sweep reads the open rows through it, never the ever-growing closed history.
    silent = (open_, Conversation.status == ASSIGNED, Conversation.mode == RELAY, Conversation.answered_at.is_(None))
    reassign = db.scalars(select(Conversation.id).where(
        *silent, Conversation.assigned_at <= now - limits.reassign).order_by(Conversation.id)).all()
    remind = db.scalars(select(Conversation.id).where(
        *silent, Conversation.reminded_at.is_(None), Conversation.assigned_at <= now - limits.remind,
        Conversation.assigned_at > now - limits.reassign).order_by(Conversation.id)).all()
    closing = set(idle)
    return ([(IDLE, i) for i in idle] + [(REASSIGN, i) for i in reassign if i not in closing]
            + [(REMIND, i) for i in remind if i not in closing])


def run(db: Session, action: str, conversation_id: int, now: datetime, limits: Limits, tell: Tell, enqueue) -> bool:
    """Do one due action if it is still due; whether anything changed."""
    conversation = locked(db, conversation_id, skip_locked=True)
    if conversation is None or conversation.status == CLOSED:
        return False
    if action == REASSIGN:     # nobody else eligible: it stays, and its agent is reminded once
        return (reassign(db, conversation, now, limits, tell, enqueue)
                or remind(db, conversation, now, limits, tell, enqueue))
    return {IDLE: idle_close, REMIND: remind}[action](db, conversation, now, limits, tell, enqueue)


def idle_close(db: Session, conversation: Conversation, now: datetime, limits: Limits, tell: Tell, enqueue) -> bool:
    if conversation.last_activity_at > now - limits.idle:
        return False
    if conversation.mode == KF and conversation.status == ASSIGNED:     # WeChat's to time out
        return False
    minutes = int(limits.idle.total_seconds() // 60)
    note = (f"会话已超过 {minutes} 分钟没有新消息，已自动结束。需要时请再回复“人工”。"
            if conversation.status == ASSIGNED
            else f"排队已超过 {minutes} 分钟，暂时没有客服接入，会话已结束。需要时请再回复“人工”。")
    close_conversation(db, conversation, now, "idle", tell, enqueue, note_to_fan=note)
    return True


def _silent(conversation: Conversation, now: datetime, after: timedelta) -> bool:
    """Assigned by relay, not answered, for at least `after`."""
    return (conversation.status == ASSIGNED and conversation.mode == RELAY and conversation.answered_at is None
            and conversation.assigned_at is not None and conversation.assigned_at <= now - after)


def remind(db: Session, conversation: Conversation, now: datetime, limits: Limits, tell: Tell, enqueue) -> bool:
    if conversation.reminded_at is not None or not _silent(conversation, now, limits.remind):
        return False
    conversation.reminded_at = now
    agent = db.get(Staff, conversation.agent_id)
    if agent is not None:
        minutes = int(limits.reassign.total_seconds() // 60)
        tell_agent(db, conversation, agent, f"提醒：会话 {label(db, conversation)} 还在等您回复，"
                                            f"分配后 {minutes} 分钟未回复将转给其他有空的客服。", tell)
    db.flush()
    return True


def reassign(db: Session, conversation: Conversation, now: datetime, limits: Limits, tell: Tell, enqueue) -> bool:
    """Offer an unanswered conversation to the next eligible agent; stays if there is none."""
    if not _silent(conversation, now, limits.reassign):
        return False
    old = db.get(Staff, conversation.agent_id) if conversation.agent_id else None
    pool = Pool.lock(db, conversation.account_id, also=(conversation.agent_id,))
    pick, why = pool.choose(conversation.store_id, exclude=frozenset({old.id}) if old else frozenset())
    if pick is None:
        return False
    minutes = int(limits.reassign.total_seconds() // 60)
    pool.take(conversation, pick, REASSIGNED,
              f"{old.name if old else 'nobody'} did not answer in {minutes} min → {why}", now)
    if old is not None:
        refresh_current(db, old.id, closing=conversation.id)
        tell_agent(db, conversation, old, f"会话 {label(db, conversation)} {minutes} 分钟未回复，"
                                          f"已转给 {pick.staff.name}。", tell)
    tell_agent(db, conversation, pick.staff, f"新会话 {label(db, conversation)}（{old.name if old else '原客服'}"
                                             f" {minutes} 分钟未回复，转给您）", tell)
    tell(db.get(Fan, conversation.fan_id), f"已为您换由客服 {pick.staff.name} 服务，请稍候。")
    return True
