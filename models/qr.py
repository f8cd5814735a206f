"""Parametric QR codes we issued, and what people did through them.

A code is created here first and at WeChat second, so a batch interrupted between the two is
finished by running it again, never duplicated. Its scene string (bot/qr/scene.py) is the
only thing WeChat hands back when someone scans it.
"""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, bigpk, intpk, timestamp

# QrEvent.kind
FOLLOW = "follow"          # first follow of this fan on this account
REFOLLOW = "refollow"      # a follow after an unfollow
SCAN = "scan"              # a scan while following
UNFOLLOW = "unfollow"
CONVERTED = "member"       # the fan bound a phone and became (or was found to be) a member
EVENT_KINDS = (FOLLOW, REFOLLOW, SCAN, UNFOLLOW, CONVERTED)


class QrCode(Base):
    __tablename__ = "qr_code"
    __table_args__ = (UniqueConstraint("account_id", "scene", name="uq_qr_code_scene"),
                      UniqueConstraint("account_id", "batch", "batch_index", name="uq_qr_code_batch"))
    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    # Set right after the row has its id (the scene is made from it); never changes.
    scene: Mapped[str | None] = mapped_column(String(64))
    permanent: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # temporary codes
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list] = mapped_column(JSON, default=list)      # local tag names given to scanners
    welcome: Mapped[str | None] = mapped_column(Text)           # passive reply; else the account's
    label: Mapped[str] = mapped_column(String(128), default="")  # printed under the PNG
    # A batch is resumable: its rows exist before any API call; a re-run fills the missing tickets.
    batch: Mapped[str | None] = mapped_column(String(64))
    batch_index: Mapped[int | None]
    ticket: Mapped[str | None] = mapped_column(String(255))     # None until WeChat answered
    url: Mapped[str | None] = mapped_column(String(255))        # the QR content to render
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<QrCode {self.id} {self.scene} {'permanent' if self.permanent else 'temporary'}>"


class QrEvent(Base):
    """One follow, re-follow, scan, unfollow or conversion, credited to one code (or none).

    Scans credit the code scanned; unfollows and conversions credit the fan's attributed
    (first-touch) code, so "unfollows of fans attributed to the code" is one filter; a plain
    re-follow (no code) of an attributed fan credits the attributed code, so net follows add up.
    """

    __tablename__ = "qr_event"
    __table_args__ = (Index("ix_qr_event_code_at", "code_id", "at"),
                      Index("ix_qr_event_account_at", "account_id", "at"))
    id: Mapped[bigpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    fan_id: Mapped[int] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[int | None] = mapped_column(ForeignKey("qr_code.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    scanned: Mapped[bool] = mapped_column(default=False)     # came through a QR scan
    scene: Mapped[str | None] = mapped_column(String(64))    # raw scene, also for codes not ours
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class FanTag(Base):
    """A tag a fan should carry (ours is the truth; WeChat's copy is made to agree with it)."""

    __tablename__ = "fan_tag"
    __table_args__ = (UniqueConstraint("fan_id", "name"),)
    id: Mapped[bigpk]
    fan_id: Mapped[int] = mapped_column(ForeignKey("fan.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(32), default="")   # "qr:12", "operator", ...
    # False while WeChat does not carry it: not synced yet, or held back by a limit (reason says).
    on_wechat: Mapped[bool] = mapped_column(default=False)
    held_back: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[timestamp]
