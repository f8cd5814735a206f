"""Who gets a conversation (ANCHORS.md §1c, §2.1).

In order: the agents of the conversation's store who are on shift and under capacity (fewest
open conversations, then longest idle), then the default agents by the same rules, else the
queue. WeChat's own designated transfer strands a fan on a full agent (WECHAT-PLATFORM.md §4.10,
ANCHORS.md §2.1 [WX1]), so capacity is checked here, before anyone is designated. Every
decision becomes an Assignment row whose reason says why, in words an operator reads.

The final claim: `Pool.lock` locks the AgentState rows of every agent on shift for the account
in one statement, in staff id order (SELECT … FOR NO KEY UPDATE on PostgreSQL, which leaves inserts that
merely reference the row unblocked; on SQLite the
transaction already holds the database write lock from BEGIN IMMEDIATE, models/db.py), and
only then counts their open conversations. A second worker assigning at the same moment waits
on those rows and counts what the first assigned, so nobody goes over capacity; one statement
in a fixed order means workers whose candidates overlap never deadlock. A transaction locks
its conversation (closing, transferring) before the pool; the queue, which needs the pool to
serve anyone, locks the pool first and then each waiting conversation, which nobody holds
while waiting for the pool.
"""
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import CST
from models import Fan, Staff, Store
from models.cs import ASSIGNED, WAITING, AgentState, Assignment, Conversation
from models.org import AGENT

ASSIGNED_KIND, QUEUED, TRANSFERRED, REASSIGNED, KF_KIND = "assigned", "queued", "transferred", "reassigned", "kf"
_NEVER = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class Candidate:
    """An agent on shift for the account, with their state row (locked) and open conversations."""

    staff: Staff
    state: AgentState
    load: int

    @property
    def free(self) -> bool:
        return self.state.on_shift and self.load < self.staff.capacity

    def order(self) -> tuple:
        """Least busy first, then the one idle longest, then the roster order."""
        return self.load, self.state.idle_since or _NEVER, self.staff.id

    def describe(self) -> str:
        return f"{self.staff.name} {self.load}/{self.staff.capacity}"


class Pool:
    """The account's agents on shift, locked for the rest of the transaction."""

    def __init__(self, db: Session, candidates: list[Candidate]):
        self.db = db
        self.candidates = candidates

    @classmethod
    def lock(cls, db: Session, account_id: int, kf: bool = False, also: tuple = ()) -> "Pool":
        """Lock and load every agent on shift who follows the account (with a kf account, in
        kf mode); a conversation can only go to one of them. `also`: agents whose state the
        caller changes too (one losing a conversation, maybe off shift), locked in the same
        statement so the order stays one."""
        staff = {s.id: s for s in db.scalars(
            select(Staff).join(AgentState, AgentState.staff_id == Staff.id)
            .join(Fan, (Fan.member_id == Staff.member_id) & (Fan.account_id == account_id) & Fan.following)
            .where(Staff.active, AgentState.on_shift, Staff.roles.contains(AGENT), Staff.capacity > 0))
            if AGENT in s.role_list}
        extra = {i for i in also if i is not None} - set(staff)
        if not staff and not extra:
            return cls(db, [])
        states = db.scalars(select(AgentState).where(AgentState.staff_id.in_(set(staff) | extra))
                            .order_by(AgentState.staff_id).with_for_update(key_share=True)
                            .execution_options(populate_existing=True)).all()
        loads = open_counts(db, list(staff))
        candidates = [Candidate(staff[s.staff_id], s, loads.get(s.staff_id, 0)) for s in states
                      if s.staff_id in staff and s.on_shift and (s.kf_account or not kf)]
        return cls(db, candidates)

    def find(self, staff_id: int | None) -> Candidate | None:
        return next((c for c in self.candidates if c.staff.id == staff_id), None)

    def choose(self, store_id: int | None, exclude: frozenset[int] = frozenset()) -> tuple[Candidate | None, str]:
        """The store's best free agent, else the best free default agent; and why, either way."""
        store = store_name(self.db, store_id)
        pick, why_store = self.choose_in_store(store_id, exclude)
        if pick is not None:
            return pick, why_store
        defaults = [c for c in self.candidates if c.staff.default_agent and c.staff.id not in exclude
                    and (store_id is None or c.staff.store_id != store_id)]
        free = sorted((c for c in defaults if c.free), key=Candidate.order)
        if free:
            return free[0], f"{why_store} → default agent {free[0].describe()}"
        why_default = (f"default agents full ({', '.join(c.describe() for c in defaults)})" if defaults
                       else "no default agent on shift")
        return None, f"{why_store}, {why_default}"

    def choose_in_store(self, store_id: int | None, exclude: frozenset[int] = frozenset()
                        ) -> tuple[Candidate | None, str]:
        """The store's best free agent, and why; without a store, nobody ("no store")."""
        store = store_name(self.db, store_id)
        if store is None:
            return None, "no store"
        mine = [c for c in self.candidates if c.staff.store_id == store_id and c.staff.id not in exclude]
        free = sorted((c for c in mine if c.free), key=Candidate.order)
        if free:
            c = free[0]
            return c, (f"{store} agent {c.staff.name}: on shift, {c.load}/{c.staff.capacity} open, "
                       f"idle since {since(c.state.idle_since)}")
        if mine:
            return None, f"{store} agents full ({', '.join(c.describe() for c in mine)})"
        return None, f"{store}: no agent on shift"

    def take(self, conversation: Conversation, pick: Candidate, kind: str, reason: str, now: datetime) -> None:
        """Give the conversation to `pick`: counted at once, so the next choice sees it."""
        old = self.find(conversation.agent_id) if conversation.status == ASSIGNED else None
        if old is not None:
            old.load -= 1
        conversation.agent_id = pick.staff.id
        conversation.status = ASSIGNED
        conversation.assigned_at = now
        conversation.answered_at = None      # the new agent has not answered yet (timeouts)
        conversation.reminded_at = None
        if conversation.mode == "kf":
            conversation.kf_account = pick.state.kf_account
        pick.load += 1
        pick.state.idle_since = now
        if pick.state.current_conversation_id is None:
            pick.state.current_conversation_id = conversation.id
        record(self.db, conversation, pick.staff.id, kind, reason, now)


def record(db: Session, conversation: Conversation, agent_id: int | None, kind: str, reason: str,
           now: datetime) -> Assignment:
    row = Assignment(conversation_id=conversation.id, agent_id=agent_id, kind=kind, reason=reason, at=now)
    db.add(row)
    db.flush()
    return row


def open_counts(db: Session, staff_ids: list[int]) -> dict[int, int]:
    """Open (assigned) conversations per agent, on every account: capacity is the person's."""
    rows = db.execute(select(Conversation.agent_id, func.count()).where(
        Conversation.agent_id.in_(staff_ids), Conversation.status == ASSIGNED).group_by(Conversation.agent_id))
    return {agent_id: n for agent_id, n in rows}


def queue_position(db: Session, conversation: Conversation) -> int:
    """1 for the first in the account's queue. The queue's order is the conversations' ids: an
    account's conversations open one at a time (lifecycle.open_conversation locks the account),
    so an id says when the fan joined, even between processes whose clocks disagree."""
    return db.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.account_id == conversation.account_id, Conversation.status == WAITING,
        Conversation.id <= conversation.id))


def store_name(db: Session, store_id: int | None) -> str | None:
    store = db.get(Store, store_id) if store_id else None
    return store.name if store else None


def since(at: datetime | None) -> str:
    """China time, as operators read it."""
    return at.astimezone(CST).strftime("%m-%d %H:%M") if at else "never assigned"
