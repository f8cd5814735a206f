"""What deciding one award reads, in one statement: the rule's frequency (its awards counted in
the period), its exclusive group's standing award, and the sums the caps compare with (caps.py).

Read under the member's lock (ledger.py), before the award is written, so none of them counts
it. One statement per award instead of one per check: an award's cost is mostly round trips and
the Python around each. The statements are built once per shape (frequency: none, ever, or a
period; a group or not; caps or not).
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, null, select

from bot.clock import period_bounds
from bot.points import caps
from bot.points.policy import Rule
from models import Award
from models.points import PAID, REFUNDED, SUPERSEDED

_COUNTED = (PAID, SUPERSEDED, REFUNDED)      # what a frequency counts: paid once, whatever came after


@dataclass
class Seen:
    used: int                                  # the rule's awards its frequency counts (0: none)
    standing: tuple[int, int, int] | None      # (id, computed points, growth) of the group's standing award
    sums: dict | None                          # caps.KEYS -> net paid; None when no cap applies


def look(book, member, rule: Rule, at: datetime, points: int, growth: int) -> Seen:
    per = rule.spec["frequency"]["per"] if rule.spec["frequency"]["count"] is not None else None
    bounds = period_bounds(per, at) if per is not None else None
    frequency = None if per is None else "period" if bounds else "ever"
    capped = bool(caps.applying(book, rule, points, growth))
    if frequency is None and not rule.group and not capped:
        return Seen(0, None, None)
    params = caps.used_params(member.id, rule, at)
    if bounds:
        params.update(f_start=bounds[0], f_end=bounds[1])
    if rule.group:
        start, end = period_bounds(book.policy.group_window(rule.group), at)
        params.update(group=rule.group, g_start=start, g_end=end)
    row = book.db.execute(_statement(frequency, bool(rule.group), capped), params).one()
    used = row[0] if frequency else 0
    standing = tuple(row[1:4]) if rule.group and row[1] is not None else None
    return Seen(used, standing, dict(zip(caps.KEYS, row[4:])) if capped else None)


_SHAPES: dict[tuple, object] = {}


def _statement(frequency: str | None, group: bool, capped: bool):
    shape = (frequency, group, capped)
    if shape not in _SHAPES:
        _SHAPES[shape] = _build(*shape)
    return _SHAPES[shape]


def _build(frequency: str | None, group: bool, capped: bool):
    used = select(func.count()).select_from(Award).where(
        Award.member_id == bindparam("member_id"), Award.rule_code == bindparam("rule_code"),
        Award.status.in_(_COUNTED))
    if frequency == "period":
        used = used.where(Award.occurred_at >= bindparam("f_start"), Award.occurred_at < bindparam("f_end"))
    # Awards compare as decided (before caps: a capped award still is the largest); a fully
    # refunded one no longer stands (purchases.py marks it REFUNDED).
    standing = (select(Award.id).where(Award.member_id == bindparam("member_id"),
                                       Award.group == bindparam("group"), Award.status == PAID,
                                       Award.occurred_at >= bindparam("g_start"),
                                       Award.occurred_at < bindparam("g_end"))
                .order_by(Award.computed_points.desc(), Award.growth.desc(), Award.id).limit(1))
    standing_of = lambda column: standing.with_only_columns(column).scalar_subquery()    # noqa: E731
    columns = [used.scalar_subquery() if frequency else null()]     # null(): a check this rule has not
    columns += ([standing_of(Award.id), standing_of(Award.computed_points), standing_of(Award.growth)]
                if group else [null()] * 3)
    if capped:
        return select(*columns, *caps.used_columns()).where(*caps.month_where())
    return select(*columns)
