"""Messages the bot owes a person, kept until delivered: nothing is dropped silently."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, bigpk, timestamp

PENDING = "pending"
TEXT, IMAGE, VOICE, NEWS = "text", "image", "voice", "news"
MEDIA = (IMAGE, VOICE)        # by WeChat media id, which lives 3 days (§3.4)
SENT = "sent"
# Nobody to write to (a member who follows none of our accounts): kept, with the reason, so a
# notice is never only a log line.
UNREACHABLE = "unreachable"
# A delivery job claims rows (SENDING) and commits before it calls WeChat, so no transaction
# is open during the call; a claim whose job died in the call is UNCONFIRMED: WeChat may or may
# not have shown it, and it is never sent again (a person never gets a message twice).
SENDING, UNCONFIRMED = "sending", "unconfirmed"


class OutboundMessage(Base):
    """One text owed to (account, openid); `channel` says how it finally went out. An
    UNREACHABLE row names the member it was for and `reason`; its account and openid are
    the member's last follower row, if they ever had one."""

    __tablename__ = "outbound_message"
    __table_args__ = (Index("ix_outbound_pending", "account_id", "openid", "status"),)
    id: Mapped[bigpk]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    openid: Mapped[str | None] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    # The text; for media, what it is ("[图片] 海报"); for news, the article as JSON (title,
    # description, url, picurl: a customer-service news message carries one, §4.7).
    content: Mapped[str] = mapped_column(Text)
    # text | image | voice | news: media travel by WeChat media id (temporary media lives 3 days, §3.4)
    msg_type: Mapped[str] = mapped_column(String(16), default="text")
    media_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)   # PENDING | SENDING | SENT | UNCONFIRMED | UNREACHABLE
    reason: Mapped[str | None] = mapped_column(String(255))           # why UNREACHABLE
    channel: Mapped[str | None] = mapped_column(String(16))           # passive | custom
    # When a template notice last told this person that messages wait (one per batch).
    noticed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When a delivery run last took it up (SENDING while it calls WeChat); never: its job was lost.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[timestamp]
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
