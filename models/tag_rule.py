"""Automatic tag rules (a rules file loaded by `tags rules load`) and how far each has read.

A rule's conditions are plain data (bot/tag_rules/file.py checks them); `digest` changes when
they do, and a changed rule is evaluated over every fan again. `watermark` holds, per source
of behaviour, the highest row id the last run saw, so the next run only looks at fans with new
rows (and at fans whose rows left the window since `evaluated_at`).
"""
from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, intpk, timestamp


class TagRule(Base):
    __tablename__ = "tag_rule"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(64), unique=True)
    tag: Mapped[str] = mapped_column(String(30))
    every_hours: Mapped[int]
    when: Mapped[dict] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(default=0)            # where it stood in the file
    evaluated_digest: Mapped[str | None] = mapped_column(String(64))   # None: never evaluated
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    watermark: Mapped[dict] = mapped_column(JSON, default=dict)
    fans: Mapped[int] = mapped_column(default=0)            # fans tagged after the last run
    loaded_at: Mapped[timestamp]

    def __repr__(self) -> str:
        return f"<TagRule {self.name} -> {self.tag} every {self.every_hours}h>"
