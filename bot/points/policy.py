"""The rules in force: loading a rules file as new versions, and reading what is in force.

Every loaded rule is a `PointsRule` row; a rule whose definition changed gets a new version and
the old one stays (retired) for the ledger rows it paid. Nothing is cached in the process: each
award reads the rules in force from the database (DESIGN.md: no in-process caches that must agree).
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.clock import CST, add_months, day_start
from models import PointsPolicy, PointsRule

DEFAULT_SPEC = {"levels": {"tiers": [{"code": "member", "name": "会员", "growth": 0}],
                           "downgrade_window_months": None},
                "caps": {"day": None, "month": None},
                "expiry": {"policy": "none", "months": None, "years": 0, "remind_days": 7},
                "groups": {}}
TRIGGER_TITLES = {"follow": "关注公众号", "bind": "绑定手机成为会员", "referral_referrer": "推荐新会员",
                  "referral_referee": "受邀注册", "purchase": "消费", "birthday": "生日礼",
                  "survey_complete": "完成问卷", "sign_in": "签到", "custom": "活动奖励"}


@dataclass(frozen=True)
class Policy:
    """Member-wide settings: levels, caps, exclusive groups, expiry."""

    spec: dict

    @property
    def tiers(self) -> list[dict]:
        return self.spec["levels"]["tiers"]

    def level_for(self, growth: int) -> dict:
        return [tier for tier in self.tiers if tier["growth"] <= max(growth, 0)][-1]

    def level_name(self, code: str) -> str:
        return next((t["name"] for t in self.tiers if t["code"] == code), code or self.tiers[0]["name"])

    def next_level(self, growth: int) -> dict | None:
        return next((tier for tier in self.tiers if tier["growth"] > growth), None)

    def cap(self, period: str) -> int | None:
        return self.spec["caps"][period]

    def group_window(self, group: str) -> str:
        return self.spec["groups"][group]["window"]

    def expires_at(self, earned_at: datetime) -> datetime | None:
        """When points earned at `earned_at` expire under this policy (fixed when earned)."""
        exp = self.spec["expiry"]
        if exp["policy"] == "months":
            return add_months(earned_at, exp["months"])
        if exp["policy"] == "end_of_year":
            year = earned_at.astimezone(CST).year + exp["years"]
            return day_start(date(year + 1, 1, 1))
        return None

    @staticmethod
    def last_day(expires_at: datetime) -> date:
        """The last China-time day points expiring at `expires_at` can still be used."""
        return (expires_at - timedelta(microseconds=1)).astimezone(CST).date()

    @property
    def remind_days(self) -> int:
        return self.spec["expiry"]["remind_days"]


@dataclass(frozen=True)
class Rule:
    """One rule version, ready to compute an award."""

    id: int
    version: int
    spec: dict

    @property
    def code(self) -> str:
        return self.spec["id"]

    @property
    def title(self) -> str:
        return self.spec.get("title") or TRIGGER_TITLES[self.spec["trigger"]]

    @property
    def group(self) -> str | None:
        return self.spec.get("group")

    def active_at(self, at: datetime) -> bool:
        """Enabled, and `at` (CST date) falls within from..to, both days included."""
        if not self.spec["enabled"]:
            return False
        day = at.astimezone(CST).date().isoformat()
        return (self.spec["from"] or day) <= day <= (self.spec["to"] or day)

    def compute(self, amount_fen: int | None, level: str, payment: str | None,
                base_points: int | None = None) -> tuple[int, int]:
        """(points, growth) for one event, multipliers applied, rounded down; `base_points`
        stands for the rule's points when the event names its own (a survey's)."""
        factor = Decimal(self.spec["multipliers"]["level"].get(level, "1"))
        if payment is not None:
            factor *= Decimal(self.spec["multipliers"]["payment"].get(payment.lower(), "1"))
        points = self.spec["points"] if base_points is None else base_points
        return self._base(points, amount_fen, factor), self._base(self.spec["growth"], amount_fen, factor)

    @staticmethod
    def _base(spec, amount_fen: int | None, factor: Decimal) -> int:
        if isinstance(spec, dict):
            base = (amount_fen or 0) // spec["per_fen"] * spec["award"]
        else:
            base = spec
        return int((Decimal(base) * factor).to_integral_value(ROUND_FLOOR))


def current_policy(db: Session) -> Policy:
    spec = db.scalar(select(PointsPolicy.spec).where(PointsPolicy.in_force))
    return Policy(spec or DEFAULT_SPEC)


def rules_for(db: Session, trigger: str, rule_code: str | None = None) -> list[Rule]:
    """The rule versions in force for a trigger (one code only, for custom events), by code."""
    query = select(PointsRule).where(PointsRule.trigger == trigger, PointsRule.in_force)
    if rule_code is not None:
        query = query.where(PointsRule.code == rule_code)
    return [Rule(row.id, row.version, row.spec) for row in db.scalars(query.order_by(PointsRule.code))]


def policy_spec_column():
    """The policy in force's spec as a scalar subquery: the award path reads it with the rules."""
    return select(PointsPolicy.spec).where(PointsPolicy.in_force).scalar_subquery()


def digest(spec) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@dataclass
class LoadReport:
    added: list[str]
    changed: list[str]       # "code vN"
    retired: list[str]
    unchanged: list[str]
    policy_changed: bool


def renamed_rules(db: Session, parsed: dict) -> list[tuple[str, str, str]]:
    """(retired code, added code, trigger) for each rule the file drops while it adds another on
    the same trigger: frequency and idempotency count per rule id, so such a "renamed" rule
    pays again for what the old one paid today. Custom rules are left out: each award names
    its rule, nothing fires them on its own."""
    in_force = {row.code: row.trigger for row in db.scalars(select(PointsRule).where(PointsRule.in_force))}
    listed = {spec["id"] for spec in parsed["rules"]}
    retired = [(code, trigger) for code, trigger in sorted(in_force.items()) if code not in listed]
    added = [(spec["id"], spec["trigger"]) for spec in parsed["rules"] if spec["id"] not in in_force]
    return [(old, new, trigger) for old, trigger in retired for new, new_trigger in added
            if trigger == new_trigger and trigger != "custom"]


def load(db: Session, parsed: dict) -> LoadReport:
    """Make a parsed rules file the one in force (in the caller's transaction)."""
    report = LoadReport([], [], [], [], False)
    policy_spec = {k: v for k, v in parsed.items() if k != "rules"}
    current = db.scalar(select(PointsPolicy).where(PointsPolicy.in_force))
    if current is None or current.digest != digest(policy_spec):
        db.execute(update(PointsPolicy).values(in_force=False))
        db.add(PointsPolicy(spec=policy_spec, digest=digest(policy_spec), in_force=True))
        report.policy_changed = True
    in_force = {row.code: row for row in db.scalars(select(PointsRule).where(PointsRule.in_force))}
    for spec in parsed["rules"]:
        old = in_force.pop(spec["id"], None)
        if old is not None and old.digest == digest(spec):
            report.unchanged.append(spec["id"])
            continue
        last = db.scalar(select(PointsRule.version).where(PointsRule.code == spec["id"])
                         .order_by(PointsRule.version.desc()).limit(1)) or 0
        if old is not None:
            old.in_force = False
        db.add(PointsRule(code=spec["id"], version=last + 1, trigger=spec["trigger"], spec=spec,
                          digest=digest(spec), in_force=True))
        (report.changed if last else report.added).append(f"{spec['id']} v{last + 1}")
    for row in in_force.values():     # rules no longer in the file
        row.in_force = False
        report.retired.append(row.code)
    db.flush()
    return report
