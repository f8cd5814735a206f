"""Caps: how much one member may earn in a China day and month, across all rules (the file's
`caps`) and per rule (a rule's own `caps`), for points and for growth (rule_options.py).

Caps count what awards paid or hold pending, net of reversals: a refunded order, an outranked
award or a cancelled pending credit frees its room again. Every check runs under the member's
lock (ledger.py), so two workers never both fill the last of a cap.
"""
from datetime import datetime

from sqlalchemy import bindparam, case, func, select

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


def used_columns() -> list:
    """Every sum the caps compare with, in KEYS' order: (ledger, period, per rule?) -> net paid,
    over the member's awards of the month (the day lies within the month: month_where)."""
    in_day = (Award.occurred_at >= bindparam("day_start")) & (Award.occurred_at < bindparam("day_end"))
    mine = Award.rule_code == bindparam("rule_code")
    net = {POINTS: Award.points - Award.points_reversed, GROWTH: Award.growth - Award.growth_reversed}

    def total(ledger, period, own):
        where = [cond for cond, wanted in ((in_day, period == "day"), (mine, own)) if wanted]
        expr = case((_all(where), net[ledger]), else_=0) if where else net[ledger]
        return func.coalesce(func.sum(expr), 0)
    return [total(*key) for key in KEYS]


def month_where() -> tuple:
    return (Award.member_id == bindparam("member_id"), Award.occurred_at >= bindparam("month_start"),
            Award.occurred_at < bindparam("month_end"))


def used_params(member_id: int, rule: Rule, at: datetime) -> dict:
    day, month = period_bounds("day", at), period_bounds("month", at)
    return {"member_id": member_id, "rule_code": rule.code, "day_start": day[0], "day_end": day[1],
            "month_start": month[0], "month_end": month[1]}


def applying(book, rule: Rule, points: int, growth: int) -> list[tuple[str, str, bool, int]]:
    """The caps an award of (points, growth) by `rule` must stay within."""
    return [cap for cap in limits(book.policy.spec["caps"], rule)
            if (points if cap[0] == POINTS else growth) > 0]


def within_caps(book, member, rule: Rule, points: int, growth: int, at: datetime,
                used: dict | None = None) -> tuple[int, int]:
    """(points, growth) cut to what the caps still allow (the award keeps both before and after,
    so its history can say what was cut: NOTE). `used`: the sums, when the caller read them
    (checks.py); else one query for all of them."""
    caps = applying(book, rule, points, growth)
    if not caps:
        return points, growth
    if used is None:
        used = dict(zip(KEYS, book.db.execute(_USED, used_params(member.id, rule, at)).one()))
    allowed = {POINTS: points, GROWTH: growth}
    for ledger, period, own, cap in caps:
        allowed[ledger] = max(0, min(allowed[ledger], cap - used[(ledger, period, own)]))
    return allowed[POINTS], allowed[GROWTH]


def _all(conditions):
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = combined & condition
    return combined


KEYS = [(ledger, period, own) for ledger in (POINTS, GROWTH) for period in ("day", "month")
        for own in (False, True)]
_USED = select(*used_columns()).where(*month_where())     # built once: building it costs more than running it
