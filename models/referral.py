"""Who brought whom: one referral per new member, ever."""
from sqlalchemy import CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp


class Referral(Base):
    __tablename__ = "referral"
    __table_args__ = (CheckConstraint("referrer_id <> referee_id", name="not_self"),)
    id: Mapped[intpk]
    referee_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), unique=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[timestamp]
