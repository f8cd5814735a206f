"""Relaying a conversation between a fan and their agent, over the outbound policy.

Fan → agent: every message of the fan is a transcript row (lifecycle.record). When the
conversation has an agent it goes to them behind the conversation's label,
"【#12 138****0000 · 金卡 · 门店A】你好" (labels.label); an image or voice is the label, then the
media by its WeChat id. While the conversation waits in the queue its messages are only kept;
the agent gets them, oldest first, as soon as the conversation is theirs and anything happens
in it or on their desk (`relay_backlog`, `catch_up`, `sweep`).
A fan row's `agent_id` names the agent it was relayed to (None: not yet), so nothing goes
twice; after a transfer the new agent gets what the previous one had not read.

Agent → fan: the agent's rows (the first sets answered_at), sent to the fan as they are.

Read: a fan's message is read once the agent wrote into that conversation (they have answered
what came before), switched to it (切换 shows its latest messages), or was shown it counted by
列表 (the relayed messages themselves ride in that reply): 列表 counts what is new since.

Everything leaves as pending rows of the outbound policy (bot/outbound.py), in the order it was
written, whoever it is for: the passive reply of the person writing carries what waits for
them (a text behind an image never overtakes it), customer-service messages or one template
notice carry it to everybody else, and nothing is sent twice.
"""
import logging
from datetime import datetime, timedelta
from typing import Callable, Iterable

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from bot.cs.agents import agent_fan, state_of
from bot.cs.labels import label
from bot.cs.lifecycle import RATE, record
from bot.telling import Media
from models import AgentState, Conversation, CsMessage, Fan, OutboundMessage, Staff
from models.outbound import SENT
from models.cs import ASSIGNED, CLOSED, FROM_AGENT, FROM_FAN, RELAY

log = logging.getLogger(__name__)

RELAYED_KINDS = ("text", "image", "voice")       # what travels either way
# An image or voice push carries its MediaId (WECHAT-PLATFORM.md §3.2); a customer-service
# message sends image and voice by media id (§4.7), so nothing is downloaded or re-uploaded.
# Temporary media live 3 days (§3.4): the outbound policy tells an expired one as a text.
CAPTIONS = {"image": "[图片]", "voice": "[语音]"}
# The partial unique index on cs_conversation(fan_id) covers rows matching this predicate; the
# literal (not a bound parameter) lets the planner prove a query matches it and use the index.
OPEN = text("cs_conversation.status <> 'closed'")
# "After closing, a reply 1-5 within a while is the rating": the while.
RATING_WINDOW = timedelta(minutes=30)
TAIL = 3


Tell = Callable[[Fan, "str | Media"], None]     # ctx.tell or job.tell: pending rows, in order


def open_of(db: Session, fan_id: int) -> Conversation | None:
    """The fan's conversation that is not closed (one index probe), or None."""
    return db.scalar(select(Conversation).where(Conversation.fan_id == fan_id, OPEN))


# --- fan → agent ---------------------------------------------------------------------------
# Who relays a conversation's fan messages holds its row lock (SELECT ... FOR UPDATE on
# PostgreSQL; on SQLite the transaction holds the write lock from BEGIN IMMEDIATE), so the
# fan's push and the agent's never both send one, and the older ones leave first. The fan's
# push waits for it (it holds nothing the other side wants); the agent's side skips a
# conversation someone holds: that someone is the fan's push, which relays the backlog itself.
def from_fan(db: Session, conversation: Conversation, kind: str, content: str, media_id: str | None,
             now: datetime, tell: Tell) -> CsMessage:
    """Keep the fan's message; relay it (after anything older still unrelayed) if assigned."""
    conversation = lock(db, conversation.id) or conversation
    backlog = list(db.scalars(unrelayed().where(Conversation.id == conversation.id)))
    row = record(db, conversation, FROM_FAN, now, msg_type=kind, content=content, media_id=media_id)
    if relayable(conversation):
        deliver(db, conversation, [*backlog, row], tell)
    return row


def relay_backlog(db: Session, conversation: Conversation, tell: Tell) -> int:
    """Relay to the conversation's agent every fan message they do not have yet, oldest first."""
    conversation = lock(db, conversation.id) or conversation
    if not relayable(conversation):
        return 0
    return deliver(db, conversation, list(db.scalars(unrelayed().where(Conversation.id == conversation.id))), tell)


def catch_up(db: Session, staff: Staff, tell: Tell) -> int:
    """Everything not yet relayed in the agent's conversations (queued ones the queue handed
    them, transfers): on each push of the agent, so their reply carries it."""
    return _by_conversation(db, Conversation.agent_id == staff.id, tell)


def sweep(db: Session, account_id: int, tell: Tell) -> int:
    """Everything not yet relayed in the account's assigned conversations (after a drain)."""
    return _by_conversation(db, Conversation.account_id == account_id, tell)


def _by_conversation(db: Session, where, tell: Tell) -> int:
    # One probe, locking nothing: almost always it finds nothing.
    ids = db.scalars(unrelayed().with_only_columns(CsMessage.conversation_id).where(where)
                     .order_by(None).distinct()).all()
    relayed = 0
    for conversation_id in sorted(ids):
        conversation = lock(db, conversation_id, skip_locked=True)
        if conversation is not None and relayable(conversation):
            rows = list(db.scalars(unrelayed().where(Conversation.id == conversation_id)))
            relayed += deliver(db, conversation, rows, tell)
    return relayed


def lock(db: Session, conversation_id: int, skip_locked: bool = False) -> Conversation | None:
    """The conversation, locked and re-read (None: someone else holds it and we skip it)."""
    return db.scalar(select(Conversation).where(Conversation.id == conversation_id)
                     .with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True))


def unrelayed():
    """Fan messages of assigned relay conversations that their agent has not been sent."""
    return (select(CsMessage).join(Conversation, CsMessage.conversation_id == Conversation.id)
            .where(Conversation.status == ASSIGNED, Conversation.mode == RELAY,
                   CsMessage.sender == FROM_FAN, CsMessage.read_at.is_(None),
                   or_(CsMessage.agent_id.is_(None), CsMessage.agent_id != Conversation.agent_id))
            .order_by(CsMessage.id))


def relayable(conversation: Conversation) -> bool:
    return (conversation.status == ASSIGNED and conversation.mode == RELAY
            and conversation.agent_id is not None)


def deliver(db: Session, conversation: Conversation, rows: list[CsMessage], tell: Tell) -> int:
    """The rows to the agent, labelled, in order; each marked as relayed to them."""
    if not rows:
        return 0
    staff = db.get(Staff, conversation.agent_id)
    agent = agent_fan(db, conversation.account_id, staff) if staff else None
    if agent is None:
        # Not following any more: the rows stay unrelayed for whoever gets the conversation.
        log.warning("cs relay: agent unreachable conversation=%s agent=%s", conversation.id,
                    conversation.agent_id)
        return 0
    tag = f"【{label(db, conversation)}】"
    texts: list[str] = []
    for row in rows:
        if row.msg_type in CAPTIONS and row.media_id:
            caption = tag + CAPTIONS[row.msg_type]
            for line in [*texts, caption]:
                tell(agent, line)
            texts = []
            tell(agent, Media(row.msg_type, row.media_id, caption))
        else:
            texts.append(tag + row.content)
        row.agent_id = staff.id
    for line in texts:
        tell(agent, line)
    return len(rows)


# --- agent → fan ---------------------------------------------------------------------------
def from_agent(db: Session, conversation: Conversation, staff: Staff, kind: str, content: str,
               media_id: str | None, now: datetime, tell: Tell) -> None:
    """Keep the agent's message, send it to the fan; what the agent answered is read."""
    record(db, conversation, FROM_AGENT, now, msg_type=kind, content=content, media_id=media_id,
           agent_id=staff.id)
    fan = db.get(Fan, conversation.fan_id)
    if kind in CAPTIONS:
        tell(fan, Media(kind, media_id, CAPTIONS[kind]))
    else:
        tell(fan, content)
    mark_read(db, conversation.id, staff.id, now)


def mark_read(db: Session, conversation_id: int, staff_id: int, now: datetime) -> None:
    """The fan's messages relayed to this agent count as read from now on."""
    db.execute(update(CsMessage).where(CsMessage.conversation_id == conversation_id,
                                       CsMessage.sender == FROM_FAN, CsMessage.agent_id == staff_id,
                                       CsMessage.read_at.is_(None))
               .values(read_at=now).execution_options(synchronize_session=False))


def unread_counts(db: Session, conversation_ids: Iterable[int]) -> dict[int, int]:
    ids = list(conversation_ids)
    if not ids:
        return {}
    rows = db.execute(select(CsMessage.conversation_id, func.count())
                      .where(CsMessage.conversation_id.in_(ids), CsMessage.sender == FROM_FAN,
                             CsMessage.read_at.is_(None))
                      .group_by(CsMessage.conversation_id)).all()
    return dict(rows)


def tail(db: Session, conversation_id: int, count: int = TAIL) -> list[str]:
    """The conversation's latest messages, oldest first, as the agent's 切换 shows them."""
    rows = db.scalars(select(CsMessage).where(CsMessage.conversation_id == conversation_id)
                      .order_by(CsMessage.id.desc()).limit(count)).all()
    who = {FROM_FAN: "顾客", FROM_AGENT: "客服"}
    return [f"{who.get(r.sender, '系统')}：{CAPTIONS.get(r.msg_type, '') or r.content}"
            for r in reversed(rows)]


# --- the agent's desk ----------------------------------------------------------------------
def current(db: Session, staff: Staff, mine: list[Conversation]) -> Conversation | None:
    """The conversation the agent's plain messages go to: the one they chose (or the lifecycle
    chose for them) while it is still theirs, else their only one, else None (切换 first)."""
    state = db.get(AgentState, staff.id)
    chosen = state.current_conversation_id if state else None
    found = next((c for c in mine if c.id == chosen), None)
    if found is None and len(mine) == 1:
        found = mine[0]
        state_of(db, staff).current_conversation_id = found.id
    return found


def choose(db: Session, staff: Staff, conversation: Conversation, now: datetime) -> None:
    """切换: make it current; the agent now sees its latest messages, so they are read."""
    state_of(db, staff).current_conversation_id = conversation.id
    mark_read(db, conversation.id, staff.id, now)


# --- rating --------------------------------------------------------------------------------
def rate(db: Session, fan: Fan, score: int, now: datetime) -> Conversation | None:
    """The fan's conversation closed within RATING_WINDOW and not rated yet gets `score`
    (one probe of the index on (fan_id, closed_at)), once the rating prompt has reached the
    fan: a bare digit sent before that (the prompt still pending) answers no question."""
    conversation = db.scalar(
        select(Conversation).where(Conversation.fan_id == fan.id, Conversation.status == CLOSED,
                                   Conversation.closed_at >= now - RATING_WINDOW,
                                   Conversation.rating.is_(None))
        .order_by(Conversation.closed_at.desc()).limit(1))
    if conversation is None or not prompt_delivered(db, conversation, fan):
        return None
    conversation.rating = score
    return conversation


def prompt_delivered(db: Session, conversation: Conversation, fan: Fan) -> bool:
    """Whether the conversation's rating prompt has reached the fan: it was asked (the
    conversation had an agent when it closed) and does not still wait. A prompt in the fan's
    own passive reply leaves no row; one told from elsewhere is a row, SENT once a passive
    reply or a customer-service message took it (a template notice only says something waits)."""
    if conversation.agent_id is None:
        return False
    status = db.scalar(select(OutboundMessage.status).where(
        OutboundMessage.account_id == conversation.account_id, OutboundMessage.openid == fan.openid,
        OutboundMessage.content.endswith(RATE, autoescape=True)).order_by(OutboundMessage.id.desc()).limit(1))
    return status is None or status == SENT
