"""Operators of the admin API and CLI, their reach, and the audit trail of what they changed."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, bigpk, intpk, timestamp

HQ, COMPANY, STORE = "hq", "company", "store"
OPERATOR_ROLES = (HQ, COMPANY, STORE)


class Operator(Base):
    """A named operator: an HQ admin (everything), a company admin (its stores) or a store
    manager (one store). Only the SHA-256 of the bearer token is kept; the token is shown once."""

    __tablename__ = "operator"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[timestamp]
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """One write through the admin API or a scoped command: who, what, when, before and after."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_target", "target_type", "target_id"),)
    id: Mapped[bigpk]
    actor: Mapped[str] = mapped_column(String(80))          # "operator:NAME" or "staff:138****0000"
    action: Mapped[str] = mapped_column(String(64))         # e.g. points.adjust, mall.ship
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
