"""A conversation's life: open → assigned or waiting → closed.

  open_conversation: one open per fan (the partial unique index decides a race); an account's
      conversations open one at a time (the queue's order is their ids); the queue is served
      first (first in, first out), then the newcomer gets an agent (bot/cs/assign.py) or a
      place in the queue.
  assign_waiting: the queue drains oldest first while someone has room; a store whose agents
      (and the default agents) are full is skipped, so a later fan of another store is not held
      up by it, and never overtakes an earlier fan who could use the same agent.
  close_conversation: by agent | fan | idle | operator | kf; both sides told, the fan asked for a
      rating; the freed room goes to the queue (a job).
  transfer: to an agent by name or a store by name/code, same capacity rules, else nothing changes.
  record: the transcript.
Messages go through `tell(fan, text)` (ctx.tell or job.tell: the outbound policy); nothing
here calls WeChat.
"""
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.capabilities import Cap, for_account
from bot.cs.agents import agent_fan, is_agent, refresh_current
from bot.cs.assign import ASSIGNED_KIND, QUEUED, TRANSFERRED, Candidate, Pool, queue_position, record as note
from bot.cs.labels import label
from models import Account, Fan, Staff, Store
from models.cs import ASSIGNED, CLOSED, FROM_AGENT, FROM_SYSTEM, KF, RELAY, WAITING, Conversation, CsMessage

Tell = Callable[[Fan, str], None]     # ctx.tell, job.tell, Teller.tell
RATE = "请为本次服务打分，回复 1-5"
FAN_CLOSED = {"agent": "客服已结束本次会话，感谢您的咨询。", "fan": "您已结束本次会话。",
              "idle": "会话长时间没有新消息，已自动结束。需要时请再回复“人工”。", "operator": "本次会话已结束。",
              "kf": "客服已结束本次会话，感谢您的咨询。"}
AGENT_CLOSED = {"agent": "会话 {label} 已结束。", "fan": "顾客已结束会话 {label}。",
                "idle": "会话 {label} 长时间没有新消息，已自动结束。", "operator": "会话 {label} 已由管理员结束。"}
LEFT_QUEUE = "您已退出排队。需要时请再回复“人工”。"
# A transfer that did not happen: the agent keeps the conversation and may name someone else.
NOT_TRANSFERRED = "会话未转接，仍由您接待；可以转给其他客服或门店，例如：转 门店A。"


@dataclass
class Opened:
    conversation: Conversation
    agent: Staff | None
    position: int | None          # place in the queue when nobody had room
    existing: bool                # the fan already had this conversation open
    # kf mode (WECHAT-PLATFORM.md §4.10): answer the push with Turn(transfer=kf_account), the
    # transfer_customer_service reply naming this kf account; a job also creates the session.
    kf_account: str | None = None


def kf_mode(account: Account) -> bool:
    """WeChat's kf system (§4.10) only where the account chose it and may use it."""
    return account.cs_mode == KF and for_account(account).allows(Cap.KF)


def open_for(db: Session, fan_id: int) -> Conversation | None:
    return db.scalar(select(Conversation).where(Conversation.fan_id == fan_id, Conversation.status != CLOSED))


def locked(db: Session, conversation_id: int, skip_locked: bool = False) -> Conversation | None:
    """The conversation row, locked and fresh (None if another worker holds it and we skip)."""
    return db.scalar(select(Conversation).where(Conversation.id == conversation_id)
                     .with_for_update(skip_locked=skip_locked, key_share=True)
                     .execution_options(populate_existing=True))


def open_conversation(db: Session, account: Account, fan: Fan, now: datetime, tell: Tell, enqueue) -> Opened:
    """The fan's open conversation: the one they have, or a new one, assigned or queued."""
    existing = open_for(db, fan.id)
    if existing is not None:
        return _as_opened(db, existing)
    # Conversations of an account open one at a time: ids are then the order fans joined the
    # queue, and positions told to fans at the same instant are 1, 2, 3 (a row lock on the
    # account on PostgreSQL; SQLite's write lock already serialises). A look again after waiting.
    db.execute(select(Account.id).where(Account.id == account.id).with_for_update(key_share=True))
    existing = open_for(db, fan.id)
    if existing is not None:
        return _as_opened(db, existing)
    mode = KF if kf_mode(account) else RELAY
    conversation = Conversation(account_id=account.id, fan_id=fan.id, store_id=fan.store_id, status=WAITING,
                                mode=mode, opened_at=now, last_activity_at=now)
    try:
        with db.begin_nested():
            db.add(conversation)
            db.flush()
    except IntegrityError:        # opened by another worker a moment ago: that one it is
        return _as_opened(db, open_for(db, fan.id))
    pools: dict[str, Pool] = {}
    _drain(db, pools, account.id, now, tell, enqueue, skip=conversation.id)
    pool = _pool(db, pools, account.id, mode)
    pick, why = pool.choose(conversation.store_id)
    if pick is None:
        position = queue_position(db, conversation)
        note(db, conversation, None, QUEUED, f"{why} → queue position {position}", now)
        return Opened(conversation, None, position, False)
    _give(db, pool, conversation, pick, ASSIGNED_KIND, why, now, tell, enqueue, tell_fan=False)
    return Opened(conversation, pick.staff, None, False, conversation.kf_account if mode == KF else None)


def _as_opened(db: Session, conversation: Conversation) -> Opened:
    agent = db.get(Staff, conversation.agent_id) if conversation.status == ASSIGNED and conversation.agent_id else None
    position = queue_position(db, conversation) if conversation.status == WAITING else None
    kf_account = conversation.kf_account if conversation.mode == KF and agent is not None else None
    return Opened(conversation, agent, position, True, kf_account)


def _pool(db: Session, pools: dict[str, Pool], account_id: int, mode: str) -> Pool:
    """The account's pool for `mode`, locked once per transaction. The relay pool (every agent
    on shift) is locked before the kf one (those of them with a kf account): rows already held
    are all a second statement asks for, so the one lock order holds."""
    if RELAY not in pools:
        pools[RELAY] = Pool.lock(db, account_id)
    if mode not in pools:
        pools[mode] = Pool.lock(db, account_id, kf=True)
    return pools[mode]


def assign_waiting(db: Session, account_id: int, now: datetime, tell: Tell, enqueue=None) -> int:
    """Serve the queue, oldest first, while anyone has room; how many were assigned. Without
    `enqueue`, kf-mode conversations wait (their kf session is created by a job)."""
    return _drain(db, {}, account_id, now, tell, enqueue)


def _drain(db: Session, pools: dict[str, Pool], account_id: int, now: datetime, tell: Tell, enqueue,
           skip: int | None = None) -> int:
    waiting = db.execute(select(Conversation.id, Conversation.mode).where(
        Conversation.account_id == account_id, Conversation.status == WAITING, Conversation.id != (skip or 0))
        .order_by(Conversation.id)).all()
    # The pool first, then the waiting conversations one by one, waiting for each if need be:
    # no drain overtakes another's older fan, and nobody holding a waiting conversation waits
    # for the pool (closing a waiting one needs no pool), so this wait cannot deadlock.
    for mode in sorted({mode for _, mode in waiting}, key=lambda m: m != RELAY):
        _pool(db, pools, account_id, mode)
    full: set[tuple[int | None, str]] = set()      # (store, mode) with nobody free: later fans of it wait
    served = 0
    for conversation_id, _mode in waiting:
        conversation = locked(db, conversation_id)
        if conversation.status != WAITING or (conversation.store_id, conversation.mode) in full:
            continue
        if conversation.mode == KF and enqueue is None:
            continue
        pool = _pool(db, pools, account_id, conversation.mode)
        pick, why = pool.choose(conversation.store_id)
        if pick is None:
            full.add((conversation.store_id, conversation.mode))
            continue
        _give(db, pool, conversation, pick, ASSIGNED_KIND, f"from the queue: {why}", now, tell, enqueue, tell_fan=True)
        served += 1
    return served


def _give(db: Session, pool: Pool, conversation: Conversation, pick: Candidate, kind: str, why: str,
          now: datetime, tell: Tell, enqueue, tell_fan: bool) -> None:
    """Assign, tell the agent (and the fan, unless the caller answers them), start a kf session."""
    pool.take(conversation, pick, kind, why, now)
    fan = db.get(Fan, conversation.fan_id)
    tell_agent(db, conversation, pick.staff, f"新会话 {label(db, conversation)}", tell)
    if tell_fan:
        tell(fan, f"客服 {pick.staff.name} 已为您服务，请直接发送您的问题。")
    if conversation.mode == KF and enqueue is not None:
        enqueue("workers.cs.create_kf_session", conversation.id, queue="high", retry=(5, 15, 60))


def tell_agent(db: Session, conversation: Conversation, staff: Staff, text: str, tell: Tell) -> None:
    """A line for the agent in their chat; kf-mode agents answer in WeChat's kf tool instead."""
    fan = agent_fan(db, conversation.account_id, staff)
    if fan is None:
        return
    if conversation.mode == KF:
        text += "\n（微信客服接待，请在客服工具中回复）"
    elif text.startswith("新会话"):
        text += "\n直接回复即发给顾客；回复“列表”查看会话，“结束”结束当前会话。"
    tell(fan, text)


def close_conversation(db: Session, conversation: Conversation, now: datetime, by: str, tell: Tell, enqueue,
                       note_to_fan: str | None = None) -> None:
    """Close (once): the fan told (and asked for a rating if an agent had it), the agent told,
    the kf session closed where we closed it, and the freed room offered to the queue."""
    conversation = locked(db, conversation.id)
    if conversation is None or conversation.status == CLOSED:
        return
    was = conversation.status
    conversation.status, conversation.closed_at, conversation.closed_by = CLOSED, now, by
    record(db, conversation, FROM_SYSTEM, now, content=f"会话结束（{by}）")
    fan = db.get(Fan, conversation.fan_id)
    if was == ASSIGNED:
        tell(fan, f"{note_to_fan or FAN_CLOSED.get(by, FAN_CLOSED['operator'])}\n{RATE}")
        agent = db.get(Staff, conversation.agent_id) if conversation.agent_id else None
        if agent is not None:
            Pool.lock(db, conversation.account_id, also=(agent.id,))      # the one lock order
            refresh_current(db, agent.id, closing=conversation.id)
            if by in AGENT_CLOSED:
                tell_agent(db, conversation, agent, AGENT_CLOSED[by].format(label=label(db, conversation)), tell)
        if conversation.mode == KF and by != "kf" and conversation.kf_account:
            enqueue("workers.cs.close_kf_session", conversation.id, queue="default", retry=(5, 15, 60))
        enqueue("workers.cs.drain_queue", conversation.account_id, queue="high", retry=(5, 15, 60))
    else:
        tell(fan, note_to_fan or LEFT_QUEUE)
    db.flush()


def transfer(db: Session, conversation: Conversation, target: str, now: datetime, tell: Tell, enqueue) -> str:
    """转 NAME: to that agent, or to the best free agent of that store; the answer for the asker."""
    conversation = locked(db, conversation.id)
    target = (target or "").strip()
    if conversation is None or conversation.status != ASSIGNED:
        return "这个会话已经结束，无法转接。回复“列表”查看您还在进行的会话。"
    if conversation.mode == KF:
        return "微信客服模式的会话请在客服工具中转接。"
    if not target:
        return "请写上要转给的客服姓名或门店，例如：转 张三"
    old = db.get(Staff, conversation.agent_id) if conversation.agent_id else None
    by = old.name if old else "operator"
    pool = Pool.lock(db, conversation.account_id, also=(old.id if old else None,))
    named = [s for s in db.scalars(select(Staff).where(Staff.name == target, Staff.active)) if is_agent(s)]
    store = db.scalar(select(Store).where((Store.name == target) | (Store.code == target)))
    if named:
        if len(named) > 1:
            return f"有 {len(named)} 位客服叫“{target}”，请改用门店名称转接。"
        if old is not None and named[0].id == old.id:
            return "这个会话已经在您这里。"
        pick = pool.find(named[0].id)
        if pick is None:
            return f"{target} 现在不在班，{NOT_TRANSFERRED}"
        if not pick.free:
            return f"{target} 已满（{pick.load}/{pick.staff.capacity}），{NOT_TRANSFERRED}"
        why = f"transferred by {by} to agent {pick.staff.name}: on shift, {pick.load}/{pick.staff.capacity} open"
    elif store is not None:
        pick, why = pool.choose_in_store(store.id, exclude=frozenset({old.id}) if old else frozenset())
        if pick is None:
            mine = [c.describe() for c in pool.candidates
                    if c.staff.store_id == store.id and (old is None or c.staff.id != old.id)]
            state = f"都已满（{'、'.join(mine)}）" if mine else "没有在班的客服"
            return f"{store.name} {state}，{NOT_TRANSFERRED}"
        conversation.store_id = store.id
        why = f"transferred by {by} to {why}"
    else:
        return f"找不到叫“{target}”的客服或门店。请写客服姓名或门店名称，例如：转 张三。"
    pool.take(conversation, pick, TRANSFERRED, why, now)
    if old is not None:
        refresh_current(db, old.id, closing=conversation.id)
    tell_agent(db, conversation, pick.staff, f"转接会话 {label(db, conversation)}（来自 {by}）", tell)
    tell(db.get(Fan, conversation.fan_id), f"已为您转接至客服 {pick.staff.name}，请稍候。")
    enqueue("workers.cs.drain_queue", conversation.account_id, queue="high", retry=(5, 15, 60))
    return f"已将会话 {label(db, conversation)} 转给 {pick.staff.name}。"


def record(db: Session, conversation: Conversation, sender: str, now: datetime, msg_type: str = "text",
           content: str = "", media_id: str | None = None, agent_id: int | None = None) -> CsMessage:
    """Append to the transcript; a fan's or agent's message is activity (idle timeout), and the
    agent's first reply is their answer (no-answer timeout)."""
    message = CsMessage(conversation_id=conversation.id, sender=sender, agent_id=agent_id, msg_type=msg_type,
                        content=content or "", media_id=media_id, at=now)
    db.add(message)
    if sender != FROM_SYSTEM:
        conversation.last_activity_at = now
    if sender == FROM_AGENT and conversation.answered_at is None:
        conversation.answered_at = now
    db.flush()
    return message
