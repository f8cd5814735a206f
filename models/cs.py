"""Customer service: conversations between a fan and a store's agent, relayed in WeChat.

A conversation is `waiting` (in the queue), `assigned` (an agent has it) or `closed`; a fan has
at most one that is not closed (a partial unique index decides a race, not a read). Every
assignment is a row saying why it went where it went. Every message either way is a row of the
transcript; delivery goes through the outbound policy (bot/outbound.py).
"""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, bigpk, intpk, timestamp

WAITING, ASSIGNED, CLOSED = "waiting", "assigned", "closed"
RELAY, KF = "relay", "kf"                    # answered by our relay, or by WeChat's kf system
FROM_FAN, FROM_AGENT, FROM_SYSTEM = "fan", "agent", "system"


class Conversation(Base):
    __tablename__ = "cs_conversation"
    __table_args__ = (
        Index("uq_cs_conversation_open_fan", "fan_id", unique=True,
              postgresql_where=text("status <> 'closed'"), sqlite_where=text("status <> 'closed'")),
        Index("ix_cs_conversation_agent_status", "agent_id", "status"),
        Index("ix_cs_conversation_account_status", "account_id", "status", "opened_at"),
        # A fan's latest closed conversation (the rating that may follow it): one probe.
        Index("ix_cs_conversation_fan_closed", "fan_id", "closed_at"),
    )
    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    fan_id: Mapped[int] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=WAITING)
    mode: Mapped[str] = mapped_column(String(8), default=RELAY)
    kf_account: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # the agent's first reply
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # no-answer reminder sent
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(16))     # agent | fan | idle | operator | kf
    rating: Mapped[int | None]                                     # 1..5, from the fan after closing


class Assignment(Base):
    """Where a conversation went and why: queued, assigned, transferred, reassigned, kf."""

    __tablename__ = "cs_assignment"
    id: Mapped[bigpk]
    conversation_id: Mapped[int] = mapped_column(ForeignKey("cs_conversation.id", ondelete="CASCADE"),
                                                 index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CsMessage(Base):
    """One message of a transcript, in order; `read_at` is when the agent got a fan's message."""

    __tablename__ = "cs_message"
    __table_args__ = (Index("ix_cs_message_conversation", "conversation_id", "id"),)
    id: Mapped[bigpk]
    conversation_id: Mapped[int] = mapped_column(ForeignKey("cs_conversation.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(8))                # fan | agent | system
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    msg_type: Mapped[str] = mapped_column(String(16), default="text")   # text | image | voice
    content: Mapped[str] = mapped_column(Text, default="")
    media_id: Mapped[str | None] = mapped_column(String(128))
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgentState(Base):
    """An agent's shift and what they are looking at; locked to claim their capacity."""

    __tablename__ = "cs_agent_state"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    on_shift: Mapped[bool] = mapped_column(default=False)
    # When the agent last got a conversation (or came on shift): "longest idle" goes first.
    idle_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    current_conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("cs_conversation.id", ondelete="SET NULL"))
    kf_account: Mapped[str | None] = mapped_column(String(64))    # WeChat kf account, kf mode


class CannedReply(Base):
    """A store's quick replies (快捷 N), numbered from 1."""

    __tablename__ = "cs_canned_reply"
    id: Mapped[intpk]
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))   # None: all
    number: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[timestamp]
