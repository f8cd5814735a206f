"""Caps: how much one member may earn in a China day and month, across all rules (the file's
`caps`) and per rule (a rule's own `caps`), for points and for growth (rule_options.py).

Caps count what awards paid or hold pending, net of reversals: a refunded order, an outranked
award or a cancelled pending credit frees its room again. Every check runs under the member's
lock (ledger.py), so two workers never both fill the last of a cap.
"""
from datetime import datetime

from sqlalchemy import case, func, select

from bot.clock import period_bounds
from bot.points.policy import Rule
from models import Award
from models.points import GROWTH, POINTS

NOTE = {POINTS: "已达积分上限，实得 {}", GROWTH: "已达成长值上限，实得 {}"}


def limits(member_caps: dict, rule: Rule) -> list[tuple[str, str, bool, int]]:
    """(ledger, period, per rule?, cap) for every cap that applies to an award of `rule`."""
    out = []
    for own, spec in ((False, member_caps), (True, rule.spec.get("caps") or {})):
        for ledger, periods in ((POINTS, spec), (GROWTH, spec.get("growth") or {})):
            out += [(ledger, period, own, periods[period]) for period in ("day", "month")
                    if periods.get(period) is not None]
    return out


def within_caps(book, member, rule: Rule, points: int, growth: int, at: datetime) -> tuple[int, int]:
    """(points, growth) cut to what the caps still allow (the award keeps both before and after,
    so its history can say what was cut: NOTE). One query for all sums: the day lies within
    the month."""
    applying = [cap for cap in limits(book.policy.spec["caps"], rule)
                if (points if cap[0] == POINTS else growth) > 0]
    if not applying:
        return points, growth
    day, month = period_bounds("day", at), period_bounds("month", at)
    in_day = (Award.occurred_at >= day[0]) & (Award.occurred_at < day[1])
    mine = Award.rule_code == rule.code
    net = {POINTS: Award.points - Award.points_reversed, GROWTH: Award.growth - Award.growth_reversed}
    keys = [(ledger, period, own) for ledger in (POINTS, GROWTH) for period in ("day", "month")
            for own in (False, True)]

    def total(ledger, period, own):
        where = [cond for cond, wanted in ((in_day, period == "day"), (mine, own)) if wanted]
        expr = case((_all(where), net[ledger]), else_=0) if where else net[ledger]
        return func.coalesce(func.sum(expr), 0)
    used = dict(zip(keys, book.db.execute(select(*(total(*key) for key in keys)).where(
        Award.member_id == member.id, Award.occurred_at >= month[0], Award.occurred_at < month[1])).one()))
    allowed = {POINTS: points, GROWTH: growth}
    for ledger, period, own, cap in applying:
        allowed[ledger] = max(0, min(allowed[ledger], cap - used[(ledger, period, own)]))
    return allowed[POINTS], allowed[GROWTH]


def _all(conditions):
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = combined & condition
    return combined
