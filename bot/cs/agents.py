"""Who the agents are, and their shifts.

An agent is an active roster row with the agent role whose member has a fan on the account
and follows it: that fan is where the agent works, in the chat. Their shift and what they look
at live in AgentState (one row per staff member, made on their first 上班).
"""
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Fan, Staff
from models.cs import ASSIGNED, AgentState, Conversation
from models.org import AGENT


def is_agent(staff: Staff | None) -> bool:
    return staff is not None and staff.active and AGENT in staff.role_list


def agent_fan(db: Session, account_id: int, staff: Staff) -> Fan | None:
    """The agent's own fan row on this account, if they follow it."""
    if staff.member_id is None:
        return None
    return db.scalar(select(Fan).where(Fan.account_id == account_id, Fan.member_id == staff.member_id,
                                       Fan.following))


def agent_for(db: Session, fan: Fan) -> Staff | None:
    """The active agent-role staff member behind this fan, or None."""
    if fan.member_id is None:
        return None
    staff = db.scalar(select(Staff).where(Staff.member_id == fan.member_id, Staff.active))
    return staff if is_agent(staff) else None


def state_of(db: Session, staff: Staff, lock: bool = False) -> AgentState:
    """The agent's state row, made (off shift) if they never had one."""
    query = select(AgentState).where(AgentState.staff_id == staff.id)
    if lock:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    state = db.scalar(query)
    if state is None:
        state = AgentState(staff_id=staff.id, on_shift=False)
        db.add(state)
        db.flush()
    return state


def set_shift(db: Session, staff: Staff, on: bool, now: datetime, enqueue) -> None:
    """上班 / 下班. Coming on shift starts the agent's idle time and drains the queues of the
    accounts they work on (a job, after commit). Going off keeps the conversations they have:
    they can still answer and close them; they only get no new ones."""
    state = state_of(db, staff, lock=True)
    if on and not state.on_shift:
        state.idle_since = now
    state.on_shift = on
    db.flush()
    if on:
        for account_id in accounts_of(db, staff):
            enqueue("workers.cs.drain_queue", account_id, queue="high", retry=(5, 15, 60))


def accounts_of(db: Session, staff: Staff) -> list[int]:
    """The accounts this staff member follows (and so can work on)."""
    if staff.member_id is None:
        return []
    return list(db.scalars(select(Fan.account_id).where(Fan.member_id == staff.member_id, Fan.following)
                           .order_by(Fan.account_id)))


def open_conversations(db: Session, staff: Staff) -> list[Conversation]:
    """The conversations assigned to this agent, oldest assignment first."""
    return list(db.scalars(select(Conversation).where(Conversation.agent_id == staff.id,
                                                      Conversation.status == ASSIGNED)
                           .order_by(Conversation.assigned_at, Conversation.id)))


def refresh_current(db: Session, staff_id: int, closing: int | None = None) -> None:
    """The agent's current conversation, after one left them: their oldest other open one, or
    none. The caller holds the agent's state row (bot/cs/assign.py Pool.lock(also=...)): two
    of their conversations closing at once must not each point at the other."""
    state = db.scalar(select(AgentState).where(AgentState.staff_id == staff_id).with_for_update(key_share=True)
                      .execution_options(populate_existing=True))
    if state is None or (closing is not None and state.current_conversation_id not in (closing, None)):
        return
    staff = db.get(Staff, staff_id)
    remaining = [c for c in open_conversations(db, staff) if c.id != closing] if staff else []
    state.current_conversation_id = remaining[0].id if remaining else None
