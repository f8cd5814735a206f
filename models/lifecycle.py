"""Where each member stands in their lifecycle (新顾客, 主力顾客, 沉睡顾客…): one row per stay."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, bigpk


class MemberStage(Base):
    """A member's stay in one lifecycle stage, from `entered_at` until `left_at` (None: current).
    Stages are defined in the rules file; the nightly job opens and closes these rows."""

    __tablename__ = "member_stage"
    __table_args__ = (
        # One current stage per member, and "who is in stage X now" as one index range.
        Index("uq_member_stage_current", "member_id", unique=True,
              postgresql_where=text("left_at IS NULL"), sqlite_where=text("left_at IS NULL")),
        Index("ix_member_stage_stage_current", "stage", "member_id",
              postgresql_where=text("left_at IS NULL"), sqlite_where=text("left_at IS NULL")),
        Index("ix_member_stage_member_entered", "member_id", "entered_at"),
    )
    id: Mapped[bigpk]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(32))       # the stage's code in the rules file
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<MemberStage {self.member_id} {self.stage} {self.entered_at}–{self.left_at}>"
