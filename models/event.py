"""Everything that reached the webhook, one row per push: analytics and automatic tags are queries."""
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, bigpk, timestamp


class Event(Base):
    """One push: message or event, as WeChat sent it (key fields only), and how handling went."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_account_openid", "account_id", "openid"),
        Index("ix_event_account_type_sent", "account_id", "type", "sent_at"),
    )
    id: Mapped[bigpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    openid: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))           # text, image, subscribe, scan, click, ...
    key: Mapped[str | None] = mapped_column(String(255))    # EventKey / scene / menu key
    msg_id: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # the other key fields (content, location...)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")   # ok | error
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())       # WeChat's CreateTime
    recorded_at: Mapped[timestamp]
