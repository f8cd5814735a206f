"""A follower of one account. Openids never cross accounts (WECHAT-PLATFORM.md §7.7)."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, intpk, timestamp


class Fan(Base):
    """Follow state and history of one (account, openid); attribution is first touch."""

    __tablename__ = "fan"
    __table_args__ = (
        UniqueConstraint("account_id", "openid"),
        # One fan per person per account: a phone bound to one fan of an account cannot be bound
        # by another fan of it. The index, not a check before writing, decides a race.
        Index("uq_fan_account_member", "account_id", "member_id", unique=True,
              postgresql_where=text("member_id IS NOT NULL"), sqlite_where=text("member_id IS NOT NULL")),
        # The fans whose unionid nobody asked WeChat for yet: what one batch job per account reads.
        Index("ix_fan_unionid_unchecked", "account_id",
              postgresql_where=text("unionid_checked_at IS NULL"), sqlite_where=text("unionid_checked_at IS NULL")),
    )
    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    openid: Mapped[str] = mapped_column(String(64))
    unionid: Mapped[str | None] = mapped_column(String(64), index=True)
    # When user/info was asked for this fan's unionid (workers.linking.learn_unionids); NULL: not yet.
    unionid_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    following: Mapped[bool] = mapped_column(default=False)
    followed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unfollowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follow_count: Mapped[int] = mapped_column(default=0)
    # The scene of the first follow through a QR code, never moved by later scans.
    first_scene: Mapped[str | None] = mapped_column(String(64))
    last_scene: Mapped[str | None] = mapped_column(String(64))
    # The person behind this openid, once they bound a phone; fans of several
    # accounts of one person share it, so points and history are one.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"),
                                                  index=True)
    # First-touch attribution: the code of the first follow through a QR code, and
    # its store and staff. Later scans never move it; an operator can (README, "Moving a fan").
    source_code_id: Mapped[int | None] = mapped_column(ForeignKey("qr_code.id", ondelete="SET NULL"),
                                                       index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"), index=True)
    attributed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The menu-role tag (粉丝 / 会员 / 员工) this fan should carry on WeChat (models/tag.py).
    role_tag: Mapped[str] = mapped_column(String(8), default="粉丝")
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<Fan {self.account_id}:{self.openid} {'following' if self.following else 'gone'}>"
