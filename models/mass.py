"""Mass sends (群发) by tag: one row per account per send, created before WeChat is called.

`client_msg_id` is what WeChat deduplicates on (WECHAT-PLATFORM.md §4.13), fixed when the row
is made, so a retried job repeats the same request and never sends twice. The counts come from
the MASSSENDJOBFINISH event (§3.3).
"""
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, intpk, timestamp

PLANNED, SENDING, SUBMITTED, FINISHED, FAILED = "planned", "sending", "submitted", "finished", "failed"


class MassSend(Base):
    __tablename__ = "mass_send"
    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    group_key: Mapped[str] = mapped_column(String(64), index=True)    # one send to several accounts
    tag: Mapped[str] = mapped_column(String(30))
    msgtype: Mapped[str] = mapped_column(String(16))                  # text | image | mpnews
    content: Mapped[dict] = mapped_column(JSON)                        # text, or media/news to upload
    client_msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PLANNED)
    planned_fans: Mapped[int] = mapped_column(default=0)
    planned_within_limit: Mapped[int] = mapped_column(default=0)
    msg_id: Mapped[int | None] = mapped_column(BigInteger, index=True)   # WeChat's, from sendall
    error: Mapped[str | None] = mapped_column(String(255))
    finish_status: Mapped[str | None] = mapped_column(String(64))
    total_count: Mapped[int | None]
    filter_count: Mapped[int | None]
    sent_count: Mapped[int | None]
    error_count: Mapped[int | None]
    created_at: Mapped[timestamp]
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<MassSend {self.id} {self.tag} {self.status}>"


class MassDelivery(Base):
    """A fan a send was meant for: our own count of mass messages per fan, for the limits
    (服务号: 4 a month per fan; 订阅号: 1 send a day), WECHAT-PLATFORM.md §4.13."""
    __tablename__ = "mass_delivery"
    id: Mapped[intpk]
    send_id: Mapped[int] = mapped_column(ForeignKey("mass_send.id", ondelete="CASCADE"), index=True)
    fan_id: Mapped[int] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
