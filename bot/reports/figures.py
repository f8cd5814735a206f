"""The reports' figures, each one query (or a few) over the rows that record what happened.

Dates are China dates (bot/qr/stats.py): a month is a China month, windows are [start, end).
- funnel: per store or per code, scans -> follows (first follows and re-follows through the
  code) -> members (conversions credited to the fan's code) -> first purchases (members
  attributed to the code whose first purchase ever falls in the window); bot/qr/stats.py counts
  the first three.
- points per month: issued (earn), spent, expired, from the points ledger.
- mall per month: redemptions not cancelled and their points.
- customer service: first-response and resolution times of conversations opened in the window.
- followers: per China day follows, unfollows and following at the day's end.
- surveys: links sent and responses completed per guide.
Each takes the asker's scope (bot/scope.py; default: the server's, everything), so the admin API's
reports read through the same rule as its listings; the CLI asks as the server.
"""
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import CST
from bot.qr import stats
from bot.qr.stats import bounds
from bot.scope import SERVER, Scope
from models import (Conversation, Fan, LedgerEntry, MallOrder, Purchase, QrEvent, Staff, SurveyLink,
                    SurveyResponse)
from models.mall import CANCELLED
from models.points import EARN, EXPIRE, POINTS, SPEND
from models.qr import FOLLOW, REFOLLOW, UNFOLLOW



@dataclass(frozen=True)
class FunnelLine:
    key: int | None
    name: str
    label: str
    scans: int
    follows: int
    members: int
    first_purchases: int


def funnel(db: Session, by: str, start: datetime, end: datetime, store_id: int | None = None,
           account_id: int | None = None, scope: Scope = SERVER) -> list[FunnelLine]:
    """The lines of the whole funnel, or of one store's codes; a scope of some stores gets each
    store's lines in turn, as the chat's 报表 gets its store's (store_id: one of them)."""
    if scope.everything:
        return _funnel(db, by, start, end, store_id, account_id)
    wanted = sorted(scope.store_ids) if store_id is None else [store_id] if store_id in scope.store_ids else []
    return [line for one in wanted for line in _funnel(db, by, start, end, one, account_id)]


def _funnel(db: Session, by: str, start: datetime, end: datetime, store_id: int | None,
            account_id: int | None) -> list[FunnelLine]:
    report = stats.report(db, account_id, by=by, store_id=store_id, start=start, end=end)
    firsts = first_purchases(db, by, start, end, store_id)
    return [FunnelLine(line.key, line.name, line.label, line.counts.scans,
                       line.counts.follows + line.counts.refollows, line.counts.members, firsts.get(line.key, 0))
            for line in report.lines]


def first_purchases(db: Session, by: str, start: datetime, end: datetime, store_id: int | None) -> dict:
    """Per code (or store) the fan is attributed to: members whose first purchase is in the window."""
    first = (select(Purchase.member_id, func.min(Purchase.paid_at).label("first"))
             .group_by(Purchase.member_id).subquery())
    key = Fan.source_code_id if by == "code" else Fan.store_id
    query = (select(key, func.count(func.distinct(Fan.member_id))).join(first, first.c.member_id == Fan.member_id)
             .where(first.c.first >= start, first.c.first < end).group_by(key))
    if store_id is not None:
        query = query.where(Fan.store_id == store_id)
    return dict(db.execute(query).all())


def month_of(at: datetime) -> str:
    return at.astimezone(CST).strftime("%Y-%m")


def points_by_month(db: Session, start: datetime, end: datetime, scope: Scope = SERVER) -> dict[str, dict[str, int]]:
    rows = db.execute(select(LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.delta).where(
        LedgerEntry.ledger == POINTS, LedgerEntry.kind.in_((EARN, SPEND, EXPIRE)),
        LedgerEntry.created_at >= start, LedgerEntry.created_at < end, scope.where(LedgerEntry)))
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"issued": 0, "spent": 0, "expired": 0})
    names = {EARN: "issued", SPEND: "spent", EXPIRE: "expired"}
    for at, kind, delta in rows:
        out[month_of(at)][names[kind]] += abs(delta)
    return dict(sorted(out.items()))


def mall_by_month(db: Session, start: datetime, end: datetime, scope: Scope = SERVER) -> dict[str, dict[str, int]]:
    rows = db.execute(select(MallOrder.created_at, MallOrder.points).where(
        MallOrder.status != CANCELLED, MallOrder.created_at >= start, MallOrder.created_at < end,
        scope.where(MallOrder)))
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"orders": 0, "points": 0})
    for at, points in rows:
        out[month_of(at)]["orders"] += 1
        out[month_of(at)]["points"] += points
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class CsTimes:
    opened: int
    answered: int
    closed: int
    first_response_median_min: float | None
    first_response_mean_min: float | None
    resolution_median_min: float | None
    resolution_mean_min: float | None


def cs_times(db: Session, start: datetime, end: datetime, store_id: int | None = None,
             scope: Scope = SERVER) -> CsTimes:
    query = select(Conversation.opened_at, Conversation.answered_at, Conversation.closed_at).where(
        Conversation.opened_at >= start, Conversation.opened_at < end, scope.where(Conversation))
    if store_id is not None:
        query = query.where(Conversation.store_id == store_id)
    rows = db.execute(query).all()
    answer = [(a - o).total_seconds() / 60 for o, a, _ in rows if a is not None]
    resolve = [(c - o).total_seconds() / 60 for o, _, c in rows if c is not None]

    def mid(xs):
        return round(median(xs), 1) if xs else None

    def mean(xs):
        return round(sum(xs) / len(xs), 1) if xs else None
    return CsTimes(len(rows), len(answer), len(resolve), mid(answer), mean(answer), mid(resolve), mean(resolve))


@dataclass(frozen=True)
class TrendDay:
    day: date
    follows: int
    unfollows: int
    following: int       # at the end of the day


def follower_trend(db: Session, account_id: int, today: date, days: int = 30,
                   scope: Scope = SERVER) -> list[TrendDay]:
    """Follows (first and re-follows) and unfollows per China day from the fans' history, and the
    following count at each day's end, walked back from today's (so `today` is the clock's).
    Within a scope of some stores, the fans are theirs (the first-touch store) and so are the
    events: the walk back must count the same fans as the count it starts from."""
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    start, _ = bounds(span[0], span[-1])
    following_now = db.scalar(select(func.count()).select_from(Fan).where(Fan.account_id == account_id,
                                                                          Fan.following, scope.where(Fan))) or 0
    query = select(QrEvent.at, QrEvent.kind).where(
        QrEvent.account_id == account_id, QrEvent.kind.in_((FOLLOW, REFOLLOW, UNFOLLOW)), QrEvent.at >= start)
    if not scope.everything:
        query = query.where(QrEvent.fan_id.in_(select(Fan.id).where(scope.where(Fan))))
    rows = db.execute(query)
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for at, kind in rows:
        per_day[at.astimezone(CST).date()][kind == UNFOLLOW] += 1
    out, level = [], following_now
    for day in reversed(span):
        follows, unfollows = per_day.get(day, [0, 0])
        out.append(TrendDay(day, follows, unfollows, level))
        level -= follows - unfollows
    return list(reversed(out))


def survey_completion(db: Session, start: datetime, end: datetime,
                      scope: Scope = SERVER) -> list[tuple[str, int, int]]:
    """(guide, links sent, responses completed) per guide, the links in scope: a link counts when it
    was made in the period, a response when it was completed in it (last month's link may be
    answered this month), so a guide's completions can exceed the links they sent in the period."""
    sent = dict(db.execute(select(SurveyLink.staff_id, func.count()).where(
        scope.where(SurveyLink), SurveyLink.created_at >= start, SurveyLink.created_at < end)
        .group_by(SurveyLink.staff_id)).all())
    done = dict(db.execute(select(SurveyLink.staff_id, func.count()).select_from(SurveyResponse)
                           .join(SurveyLink, SurveyLink.id == SurveyResponse.link_id).where(
        scope.where(SurveyLink), SurveyResponse.completed_at >= start, SurveyResponse.completed_at < end)
        .group_by(SurveyLink.staff_id)).all())
    guides = set(sent) | set(done)
    names = dict(db.execute(select(Staff.id, Staff.name).where(Staff.id.in_(guides))).all()) if guides else {}
    return sorted(((names.get(i) or f"#{i}", sent.get(i, 0), done.get(i, 0)) for i in guides),
                  key=lambda row: (-row[2], row[0]))
