"""Orders reported by the booking system, and their refunds: the sources of purchase awards."""
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, UTCDateTime, bigpk, intpk, timestamp


class Integration(Base):
    """A system allowed to report purchases; its secret signs the request bodies (HMAC-SHA256)."""

    __tablename__ = "integration"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(32), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[timestamp]


class Purchase(Base):
    """One order, once: amounts in fen (1/100 yuan) so that money never meets a float."""

    __tablename__ = "purchase"
    __table_args__ = (CheckConstraint("refunded_fen <= amount_fen", name="refund_within_amount"),)
    id: Mapped[bigpk]
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_method: Mapped[str] = mapped_column(String(32))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(32))       # integration name, or "import"
    trip_end: Mapped[date | None] = mapped_column(Date)  # China date; `pending: {until: trip_end}`
    created_at: Mapped[timestamp]


class Refund(Base):
    """One refund of (part of) an order; `refund_id` is the booking system's, so a retried call
    finds the refund it already made."""

    __tablename__ = "refund"
    __table_args__ = (UniqueConstraint("purchase_id", "refund_id"),)
    id: Mapped[bigpk]
    purchase_id: Mapped[int] = mapped_column(BigId, ForeignKey("purchase.id", ondelete="CASCADE"))
    refund_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger, default=0)   # what a replay answers
    growth_reversed: Mapped[int] = mapped_column(BigInteger, default=0)
    points_cancelled: Mapped[int] = mapped_column(BigInteger, default=0)  # pending, never paid
    created_at: Mapped[timestamp]
