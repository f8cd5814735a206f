"""Keyword auto-replies, per account, managed from the command line."""
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp

EXACT = "exact"
CONTAINS = "contains"


class KeywordReply(Base):
    """Answer `reply` to a text equal to (exact) or containing (contains) `keyword`."""

    __tablename__ = "keyword_reply"
    __table_args__ = (UniqueConstraint("account_id", "keyword", "match"),)
    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    keyword: Mapped[str] = mapped_column(String(64))
    match: Mapped[str] = mapped_column(String(16))     # EXACT | CONTAINS
    reply: Mapped[str] = mapped_column(Text)
    created_at: Mapped[timestamp]
