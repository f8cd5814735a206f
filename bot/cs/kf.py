"""WeChat's own customer-service system as the way agents answer.

Account.cs_mode "kf" on a verified service account (Cap.KF; elsewhere we relay): the fan gets
the same capacity check as in relay mode, then the passive reply transfer_customer_service
naming the chosen agent's kf account (WECHAT-PLATFORM.md §3.4: TransInfo/KfAccount) and a job
calls kfsession/create for them (§4.10). A designated kf who is full or offline strands the fan
on WeChat's side (ANCHORS.md §2.1 [WX1]), hence our check first and, on 61459 (kf offline), the
next eligible kf agent, else our relay, else the queue, the fan told which.

WeChat pushes kf_create_session / kf_close_session / kf_switch_session (§3.3) when a kf takes,
closes or passes on a fan in its kf tool; they are mirrored here, so the conversation and every
agent's load stay what WeChat says, even where a kf took more than we would have given them.
"""
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.cs.agents import refresh_current
from bot.cs.assign import ASSIGNED_KIND, KF_KIND, QUEUED, Pool, queue_position, record as note
from bot.cs.lifecycle import Tell, close_conversation, locked, open_for, tell_agent
from bot.cs.labels import label
from bot.dispatch import Turn
from models import Account, Fan, Staff
from models.cs import ASSIGNED, KF, RELAY, WAITING, AgentState, Assignment, Conversation

ALREADY_SERVED, KF_OFFLINE = 61458, 61459      # kfsession/create (§4.10)
NO_SESSION = frozenset({61451})                # kfsession/close: that kf does not hold that fan
# A kf account is "prefix@the account's WeChat id" (§4.10); anything else in a kf event's
# KfAccount is no account of anybody's (and would not fit the 64-character column).
_KF_ACCOUNT = re.compile(r"[A-Za-z0-9_]{1,10}@[A-Za-z0-9_-]{1,30}")
MAX_ATTEMPTS = 5                               # kf agents tried by one create job


def handoff(kf_account: str, text: str | None = None) -> Turn:
    """The answer to the fan's push in kf mode: transfer_customer_service to `kf_account`
    (§3.4); `text` cannot ride in that reply, so it follows as a customer-service message."""
    return Turn(reply=text, transfer=kf_account)


@dataclass
class Target:
    account_id: int
    openid: str
    kf_account: str


def session_target(db: Session, conversation_id: int) -> Target | None:
    """Who kfsession/create should join, or None when the conversation no longer needs it."""
    conversation = db.get(Conversation, conversation_id)
    if (conversation is None or conversation.status != ASSIGNED or conversation.mode != KF
            or not conversation.kf_account):
        return None
    return Target(conversation.account_id, db.get(Fan, conversation.fan_id).openid, conversation.kf_account)


def offline(db: Session, conversation_id: int, kf_account: str, now: datetime, tell: Tell, enqueue) -> None:
    """61459: the designated kf is offline. The next eligible kf agent (none tried before on this
    conversation), else an agent by relay, else the queue; the fan hears which."""
    conversation = locked(db, conversation_id)
    if (conversation is None or conversation.status != ASSIGNED or conversation.mode != KF
            or conversation.kf_account != kf_account):
        return                                   # changed meanwhile: nothing to repair
    fan = db.get(Fan, conversation.fan_id)
    old = db.get(Staff, conversation.agent_id) if conversation.agent_id else None
    tried = set(db.scalars(select(Assignment.agent_id).where(
        Assignment.conversation_id == conversation.id, Assignment.agent_id.is_not(None))))
    relay = Pool.lock(db, conversation.account_id, also=(conversation.agent_id,))   # relay first: one order
    pool = Pool.lock(db, conversation.account_id, kf=True)
    pick, why = pool.choose(conversation.store_id, exclude=frozenset(tried))
    if pick is not None:
        pool.take(conversation, pick, KF_KIND, f"kf {kf_account} offline (61459) → {why}", now)
        _moved(db, conversation, old, pick.staff, tell)
        tell(fan, f"客服{f' {old.name} ' if old else ''}暂时不在线，已为您转接客服 {pick.staff.name}。")
        return
    conversation.mode, conversation.kf_account = RELAY, None
    pick, why = relay.choose(conversation.store_id)
    if pick is not None:
        relay.take(conversation, pick, ASSIGNED_KIND, f"kf agents offline (61459) → relay: {why}", now)
        _moved(db, conversation, old, pick.staff, tell)
        tell(fan, f"微信客服暂时不在线，已改由客服 {pick.staff.name} 在公众号内为您服务，请直接发送您的问题。")
        return
    conversation.status, conversation.agent_id = WAITING, None
    if old is not None:
        refresh_current(db, old.id, closing=conversation.id)
    position = queue_position(db, conversation)
    note(db, conversation, None, QUEUED, f"kf agents offline (61459), relay: {why} → queue position {position}", now)
    tell(fan, f"微信客服暂时不在线，您已进入排队，当前第 {position} 位，客服接入后会通知您。")


def _moved(db: Session, conversation: Conversation, old: Staff | None, new: Staff, tell: Tell) -> None:
    if old is not None and old.id != new.id:
        refresh_current(db, old.id, closing=conversation.id)
    tell_agent(db, conversation, new, f"新会话 {label(db, conversation)}", tell)


def kf_account_in(value) -> str:
    """The kf account a kf event names, or "" when its KfAccount is not one."""
    return value if isinstance(value, str) and _KF_ACCOUNT.fullmatch(value) else ""


def mirror_to(db: Session, conversation: Conversation, kf_account: str, reason: str, now: datetime) -> None:
    """The conversation is with `kf_account` now, because WeChat says so (capacity is not asked:
    it already happened). An unknown kf account holds it for no agent of ours."""
    found = db.scalar(select(AgentState.staff_id).where(AgentState.kf_account == kf_account)) if kf_account else None
    old = conversation.agent_id if conversation.status == ASSIGNED else None
    Pool.lock(db, conversation.account_id, also=(old, found))           # the one lock order
    state = db.get(AgentState, found) if found else None
    agent_id = state.staff_id if state else None
    if conversation.status == ASSIGNED and conversation.mode == KF and conversation.kf_account == kf_account \
            and conversation.agent_id == agent_id:
        return                                   # already true (our own create, or a repeat)
    conversation.status, conversation.mode, conversation.kf_account = ASSIGNED, KF, kf_account or None
    conversation.agent_id, conversation.assigned_at = agent_id, now
    if old is not None and old != agent_id:
        refresh_current(db, old, closing=conversation.id)
    if state is not None:
        state.idle_since = now
        state.current_conversation_id = state.current_conversation_id or conversation.id
    note(db, conversation, agent_id, KF_KIND, reason, now)


def mirror_served(db: Session, conversation_id: int, serving: str, now: datetime, tell: Tell) -> None:
    """61458: the fan is already with another kf; the conversation follows them."""
    conversation = locked(db, conversation_id)
    if conversation is None or conversation.status != ASSIGNED or conversation.mode != KF:
        return
    mirror_to(db, conversation, serving, f"61458: already served by kf {serving or 'unknown'}", now)


def session_created(db: Session, account: Account, fan: Fan, kf_account: str, now: datetime) -> None:
    """kf_create_session: a kf took the fan (our create, or from WeChat's own waiting list)."""
    conversation = open_for(db, fan.id)
    if conversation is None:
        conversation = Conversation(account_id=account.id, fan_id=fan.id, store_id=fan.store_id, status=WAITING,
                                    mode=KF, opened_at=now, last_activity_at=now)
        try:
            with db.begin_nested():
                db.add(conversation)
                db.flush()
        except IntegrityError:
            conversation = open_for(db, fan.id)
    conversation = locked(db, conversation.id)
    mirror_to(db, conversation, kf_account, f"kf_create_session: kf {kf_account} took the fan", now)


def session_switched(db: Session, fan: Fan, from_kf: str, to_kf: str, now: datetime) -> None:
    """kf_switch_session: one kf passed the fan to another in the kf tool."""
    conversation = open_for(db, fan.id)
    if conversation is not None:
        conversation = locked(db, conversation.id)
        mirror_to(db, conversation, to_kf, f"kf_switch_session: kf {from_kf} → {to_kf}", now)


def session_closed(db: Session, fan: Fan, kf_account: str, now: datetime, tell: Tell, enqueue) -> None:
    """kf_close_session: the kf ended it; ours closes too (the fan asked to rate it)."""
    conversation = open_for(db, fan.id)
    if conversation is not None and conversation.mode == KF:
        close_conversation(db, conversation, now, "kf", tell, enqueue)
