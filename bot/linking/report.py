"""How far the subsidiaries' fans have been gathered to the service account, per subsidiary.

  fans      following fans of the subscription account
  linked    of those, fans linked to a service-account fan (scan, unionid or one phone)
  members   of those, fans bound to a member
  recent    fans whose first link was made in the last 30 days (the link's own time)
One aggregate query per figure over indexed columns, whatever the number of fans.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Account, Fan, FanLink
from models.account import SUBSCRIPTION

RECENT = timedelta(days=30)


@dataclass
class Gathered:
    slug: str
    name: str
    fans: int
    linked: int
    members: int
    recent: int


def gathered(db: Session, now: datetime, slug: str | None = None, store_id: int | None = None) -> list[Gathered]:
    """One row per subscription account (or just `slug`); `store_id` counts only that store's fans."""
    query = select(Account).where(Account.type == SUBSCRIPTION).order_by(Account.slug)
    if slug is not None:
        query = query.where(Account.slug == slug)
    rows = []
    for account in db.scalars(query):
        fans = select(Fan.id).where(Fan.account_id == account.id, Fan.following)
        if store_id is not None:
            fans = fans.where(Fan.store_id == store_id)
        fans = fans.subquery()
        first_link = (select(FanLink.fan_id, func.min(FanLink.linked_at).label("at"))
                      .where(FanLink.fan_id.in_(select(fans.c.id))).group_by(FanLink.fan_id).subquery())
        rows.append(Gathered(
            account.slug, account.name or account.slug,
            fans=_count(db, select(fans.c.id)),
            linked=_count(db, select(first_link.c.fan_id)),
            members=_count(db, select(Fan.id).where(Fan.id.in_(select(fans.c.id)), Fan.member_id.is_not(None))),
            recent=_count(db, select(first_link.c.fan_id).where(first_link.c.at >= now - RECENT))))
    return rows


def _count(db: Session, query) -> int:
    return db.scalar(select(func.count()).select_from(query.subquery())) or 0


def lines(rows: list[Gathered]) -> list[str]:
    """The figures as chat lines (the store manager's report)."""
    return [f"「{r.name}」粉丝 {r.fans}，已关联服务号 {r.linked}，会员 {r.members}，近 30 天新关联 {r.recent}"
            for r in rows]


def for_store(db: Session, now: datetime, store_id: int) -> str | None:
    """The store manager's part of the report: the store's fans on each subsidiary, or None."""
    rows = [r for r in gathered(db, now, store_id=store_id) if r.fans]
    if not rows:
        return None
    return "\n".join(["本店订阅号粉丝关联服务号："] + lines(rows))
