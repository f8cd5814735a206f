"""Surveys that guides send from the chat: the survey (loaded from a file), the guide's links, and
one response per person per link.

A link is one (survey, guide, group): asking again finds the same row, so the same URL. A
response is created when a person opens the link (opened), holds the answers page by page
(started once any page is saved) and is completed once: `completed_at` moves from NULL in one
guarded UPDATE, and the survey's `completed` counter moves in the same transaction under its quota.
"""
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, bigpk, intpk, timestamp


class Survey(Base):
    __tablename__ = "survey"
    __table_args__ = (CheckConstraint("quota IS NULL OR completed <= quota", name="within_quota"),)
    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(128))
    intro: Mapped[str] = mapped_column(Text, default="")
    pages: Mapped[list] = mapped_column(JSON, default=list)    # [{title, questions: [...]}] as loaded
    points: Mapped[int] = mapped_column(default=0)               # base points of the survey_complete rule
    starts_on: Mapped[date | None] = mapped_column(Date)         # China dates, both included
    ends_on: Mapped[date | None] = mapped_column(Date)
    stores: Mapped[list] = mapped_column(JSON, default=list)     # store codes; empty: every store
    quota: Mapped[int | None]                                    # completed responses accepted
    completed: Mapped[int] = mapped_column(default=0)            # completed responses so far
    updated_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<Survey {self.code}>"


class SurveyLink(Base):
    """What a guide forwarded: one survey for one tour group (group "" when skipped)."""

    __tablename__ = "survey_link"
    __table_args__ = (UniqueConstraint("survey_id", "staff_id", "group_code"),)
    id: Mapped[intpk]
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"), index=True)   # the guide's, when made
    group_code: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[timestamp]


class SurveyResponse(Base):
    """One person's answers through one link (the person is the OAuth openid of the account)."""

    __tablename__ = "survey_response"
    __table_args__ = (UniqueConstraint("link_id", "openid"),
                      Index("ix_survey_response_survey_completed", "survey_id", "completed_at"))
    id: Mapped[bigpk]
    link_id: Mapped[int] = mapped_column(ForeignKey("survey_link.id", ondelete="CASCADE"))
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    openid: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)
    answers: Mapped[dict] = mapped_column(JSON, default=dict)    # question id: answer
    page: Mapped[int] = mapped_column(default=0)                 # the next page to show
    points: Mapped[int] = mapped_column(default=0)               # what completing paid (0: not yet)
    opened_at: Mapped[timestamp]
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())   # the points SMS went out

