"""A member: one person, keyed by their verified phone, whatever accounts they follow (DESIGN.md)."""
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, intpk, timestamp


class Member(Base):
    """Balances are caches of the ledger (models/points.py), changed only by bot/points/ledger.py
    in the same transaction as the entries; the checks make a negative balance impossible."""

    __tablename__ = "member"
    __table_args__ = (
        CheckConstraint("points >= 0", name="points_not_negative"),
        CheckConstraint("growth >= 0", name="growth_not_negative"),
    )
    id: Mapped[intpk]
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str | None] = mapped_column(String(64))
    birthday: Mapped[date | None] = mapped_column(Date)
    points: Mapped[int] = mapped_column(BigInteger, default=0)     # spendable
    growth: Mapped[int] = mapped_column(BigInteger, default=0)     # decides the level
    level: Mapped[str] = mapped_column(String(32), default="")     # a level code of the policy
    level_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    home_store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="SET NULL"))
    imported: Mapped[bool] = mapped_column(default=False)    # brought in from the old CRM
    created_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<Member {self.id} {mask_phone(self.phone)} {self.points}p {self.growth}g>"


def mask_phone(phone: str | None) -> str:
    """138****0000: how phones appear in logs and in chat."""
    if not phone:
        return "-"
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"
