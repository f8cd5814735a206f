"""Fans of a subsidiary's subscription account recognised on the group's service account.

A LinkToken is the one-time scene of a temporary service-account QR code (WECHAT-PLATFORM.md
§5.3): made for one subscription fan, consumed by the first service-account fan who scans it.
A FanLink records that two fans of different accounts are one person, and how we know.
"""
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, intpk, timestamp

SCAN = "scan"          # the fan scanned a one-time code
UNIONID = "unionid"    # both accounts share an open-platform account (§5.2)
PHONE = "phone"        # the person bound one phone on both accounts


class LinkToken(Base):
    __tablename__ = "link_token"
    id: Mapped[intpk]
    token: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    fan_id: Mapped[int] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"), index=True)
    service_account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    created_at: Mapped[timestamp]
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_by_fan_id: Mapped[int | None] = mapped_column(ForeignKey("fan.id", ondelete="SET NULL"))
    # WeChat's answer to qrcode/create, filled by the job after the card went out.
    ticket: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(255))


class FanLink(Base):
    """A subscription fan and the service-account fan who is the same person."""

    __tablename__ = "fan_link"
    __table_args__ = (UniqueConstraint("fan_id", "service_fan_id"),)
    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    fan_id: Mapped[int] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"), index=True)
    service_fan_id: Mapped[int] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(8))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())
