"""Lifecycle stages: where each member stands (新顾客, 主力顾客, 瞌睡顾客, 半睡顾客, 沉睡顾客…).

Stages are defined in the rules file (`stages:`, rule_options.py), in order: a member is in the
first stage whose conditions all hold, or in none. The facts are the member's orders (those not
refunded in full), their last activity (the latest push from any of their fans, or order) and
when they became a member. Days are whole China days: "within N days" means on one of the last
N days, today included; "for N days" its complement.

The nightly job (workers/points.compute_stages) keeps one open MemberStage row per member and
closes it (left_at) when the stage changes, so the history says when each stage was entered and
left. Other features read stages through `members_in` (a target: who is in a stage now) and
`in_stage` / `current_stage` (a condition on one member).
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from bot.clock import CST
from bot.points.policy import Policy
from models import Event, Fan, Member, MemberStage, Purchase


@dataclass(frozen=True)
class Facts:
    purchases: int
    last_purchase: datetime | None
    last_activity: datetime | None
    joined: datetime


def cutoff(today: date, days: int) -> datetime:
    """The first instant of the last `days` China days ending today."""
    return datetime.combine(today - timedelta(days=days - 1), time(), CST).astimezone(timezone.utc)


def holds(when: dict, facts: Facts, today: date) -> bool:
    def within(at: datetime | None, days: int) -> bool:
        return at is not None and at >= cutoff(today, days)
    tests = {
        "purchases_min": lambda n: facts.purchases >= n,
        "purchases_max": lambda n: facts.purchases <= n,
        "purchased_within_days": lambda n: within(facts.last_purchase, n),
        "no_purchase_for_days": lambda n: not within(facts.last_purchase, n),
        "active_within_days": lambda n: within(facts.last_activity, n),
        "inactive_for_days": lambda n: not within(facts.last_activity, n),
        "joined_within_days": lambda n: within(facts.joined, n),
    }
    return all(tests[key](value) for key, value in when.items())


def stage_for(stages: list[dict], facts: Facts, today: date) -> str | None:
    return next((stage["code"] for stage in stages if holds(stage["when"], facts, today)), None)


def facts_of(db: Session, member_ids: list[int]) -> dict[int, Facts]:
    """The facts of these members (ascending ids), in three grouped queries over their id range
    (a range, not a list of 500 parameters: measured in bench/stages.py)."""
    low, high = member_ids[0], member_ids[-1]
    wanted = set(member_ids)
    orders = dict((row[0], row[1:]) for row in db.execute(
        select(Purchase.member_id, func.count(), func.max(Purchase.paid_at))
        .where(Purchase.member_id.between(low, high), Purchase.refunded_fen < Purchase.amount_fen)
        .group_by(Purchase.member_id)))
    pushes = dict(db.execute(
        select(Fan.member_id, func.max(Event.sent_at))
        .join(Event, and_(Event.account_id == Fan.account_id, Event.openid == Fan.openid))
        .where(Fan.member_id.between(low, high)).group_by(Fan.member_id)).all())
    out = {}
    for member_id, joined in db.execute(select(Member.id, Member.created_at).where(Member.id.between(low, high))):
        if member_id not in wanted:
            continue
        count, last = orders.get(member_id, (0, None))
        activity = max((at for at in (last, pushes.get(member_id)) if at is not None), default=None)
        out[member_id] = Facts(count, last, activity, joined)
    return out


def settle(db: Session, policy: Policy, member_ids: list[int], now: datetime) -> int:
    """Put these members (ascending ids) in their stage as of `now`: close the stay that ended, open the new one.
    A member whose stage is unchanged is not touched (running twice changes nothing). How many
    members changed stage."""
    stages = policy.spec.get("stages") or []
    today = now.astimezone(CST).date()
    facts = facts_of(db, member_ids)
    current = {row.member_id: row for row in db.scalars(select(MemberStage).where(
        MemberStage.member_id.between(member_ids[0], member_ids[-1]), MemberStage.left_at.is_(None))
        .with_for_update())}
    changed = 0
    for member_id in member_ids:
        target = stage_for(stages, facts[member_id], today) if member_id in facts else None
        stay = current.get(member_id)
        if (stay.stage if stay else None) == target:
            continue
        if stay is not None:
            stay.left_at = now
            db.flush()       # the one-open-stay index sees the closed row before the new one
        if target is not None:
            db.add(MemberStage(member_id=member_id, stage=target, entered_at=now))
        changed += 1
    db.flush()
    return changed


def members_in(code: str) -> Select:
    """SELECT member ids in stage `code` now: a target for mass sends, a set for tag rules."""
    return select(MemberStage.member_id).where(MemberStage.stage == code, MemberStage.left_at.is_(None))


def current_stage(db: Session, member_id: int) -> MemberStage | None:
    return db.scalar(select(MemberStage).where(MemberStage.member_id == member_id,
                                               MemberStage.left_at.is_(None)))


def in_stage(db: Session, member_id: int, code: str) -> bool:
    """A condition for tag rules: the member is in stage `code` now."""
    stay = current_stage(db, member_id)
    return stay is not None and stay.stage == code


def history(db: Session, member_id: int) -> list[MemberStage]:
    return list(db.scalars(select(MemberStage).where(MemberStage.member_id == member_id)
                           .order_by(MemberStage.entered_at, MemberStage.id)))


def stage_name(policy: Policy, code: str) -> str:
    return next((s["name"] for s in policy.spec.get("stages") or [] if s["code"] == code), code)


def describe(db: Session, policy: Policy, member_id: int) -> str:
    """"主力顾客（2026-11-01 起）" for the agent's 资料; "未分组" before the first nightly run."""
    stay = current_stage(db, member_id)
    if stay is None:
        return "未分组"
    return f"{stage_name(policy, stay.stage)}（{stay.entered_at.astimezone(CST):%Y-%m-%d} 起）"
