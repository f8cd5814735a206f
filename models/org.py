"""The organisation: companies, their stores, and the staff roster."""
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, intpk, timestamp

GUIDE, AGENT, MANAGER = "guide", "agent", "manager"
ROLES = (GUIDE, AGENT, MANAGER)


class Company(Base):
    """A company of the group (a subsidiary, or HQ)."""

    __tablename__ = "company"
    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))


class Store(Base):
    """A store: what data scope hangs on (DESIGN.md); fans belong to their first-touch store."""

    __tablename__ = "store"
    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"))
    created_at: Mapped[timestamp]


class Staff(Base):
    """One roster row, keyed by phone; linked to the member who authenticated with that phone."""

    __tablename__ = "staff"
    id: Mapped[intpk]
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    roles: Mapped[str] = mapped_column(String(64), default="")    # comma-separated ROLES
    capacity: Mapped[int] = mapped_column(default=0)               # open conversations, for agents
    default_agent: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[timestamp]

    @property
    def role_list(self) -> list[str]:
        return [r for r in self.roles.split(",") if r]
