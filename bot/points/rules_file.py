"""Reading a rules file: YAML in, validated plain data out, every error with its line.

The file's shape (bot/points/rules.example.yaml is a complete, commented one):
    levels:  {tiers: [{code, name, growth}...], downgrade_window_months: N?}
    caps:    {day: N?, month: N?, growth: {day, month}?}  per member, across all rules
    expiry:  {policy: none|months|end_of_year, months: N, years: N, remind_days: 7}
    groups:  {NAME: {window: day|week|month|year}}      exclusive groups
    rules:   [{id, trigger, title?, points, growth, from?, to?, frequency?, enabled?,
               multipliers?: {level: {CODE: x}, payment: {METHOD: x}}, group?,
               pending?, growth_pending?, caps?}]
    stages:  [{code, name, CONDITION: N...}]             lifecycle stages (rule_options.py)
`points` and `growth` are a whole number, or {per: YUAN, award: N} (purchases only: every full
YUAN yuan gives N).
"""
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from bot.points import rule_options

TRIGGERS = ("follow", "bind", "referral_referrer", "referral_referee", "purchase", "birthday",
            "survey_complete", "sign_in", "custom")
AMOUNT_TRIGGERS = frozenset({"purchase"})       # the only events that carry an amount
PERIODS = rule_options.PERIODS
EXPIRY_POLICIES = ("none", "months", "end_of_year")
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
EXAMPLE_RULES = Path(__file__).with_name("rules.example.yaml")


class RulesError(Exception):
    """The file is not valid; `errors` are (line, message) pairs, in file order."""

    def __init__(self, errors: list[tuple[int, str]]):
        self.errors = sorted(errors)
        super().__init__("\n".join(f"line {line}: {msg}" for line, msg in self.errors))


class LineDict(dict):
    """A mapping that remembers where it and each of its keys stood in the file."""
    line = 0
    lines: dict


class LineList(list):
    line = 0
    lines: list


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        self.flatten_mapping(node)
        out = LineDict()
        out.line, out.lines = node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in out:
                raise yaml.MarkedYAMLError(problem=f"duplicate key {key!r}", problem_mark=key_node.start_mark)
            out[key] = self.construct_object(value_node, deep=True)
            out.lines[key] = line
        return out

    def construct_sequence(self, node, deep=False):
        out = LineList(self.construct_object(child, deep=True) for child in node.value)
        out.line, out.lines = node.start_mark.line + 1, [c.start_mark.line + 1 for c in node.value]
        return out


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)


def load_document(text: str):
    """The YAML document with each mapping's and list's line kept (duplicate keys refused), or
    RulesError naming the line of a syntax error."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise RulesError([((mark.line + 1) if mark else 1, exc.problem or str(exc))]) from None
    except yaml.YAMLError as exc:
        raise RulesError([(1, str(exc))]) from None


def parse(text: str) -> dict:
    """The whole file as normalized plain data (JSON-safe), or RulesError with every problem."""
    doc = load_document(text)
    check = _Checker()
    result = check.document(doc)
    if check.errors:
        raise RulesError(check.errors)
    return result


class _Checker:
    """Walks the document once, collecting every error instead of stopping at the first."""

    def __init__(self):
        self.errors: list[tuple[int, str]] = []

    def fail(self, line: int, msg: str):
        self.errors.append((line, msg))

    def mapping(self, value, line: int, what: str, allowed: set[str]) -> LineDict | None:
        if not isinstance(value, dict):
            self.fail(line, f"{what} must be a mapping")
            return None
        for key in value:
            if key not in allowed:
                self.fail(value.lines[key], f"{what}: unknown field {key!r} (allowed: {', '.join(sorted(allowed))})")
        return value

    def whole(self, value, line: int, what: str, minimum: int = 0) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(line, f"{what} must be a whole number ≥ {minimum}, not {value!r}")
            return None
        return value

    def document(self, doc) -> dict:
        if doc is None:
            doc = LineDict()
            doc.line, doc.lines = 1, {}
        top = self.mapping(doc, 1, "the file", {"levels", "caps", "expiry", "groups", "rules", "stages"}) or {}
        at = (lambda key: top.lines.get(key, 1)) if top else (lambda key: 1)
        levels = self.levels(top.get("levels"), at("levels"))
        groups = self.groups(top.get("groups", LineDict()), at("groups"))
        result = {
            "levels": levels,
            "caps": rule_options.caps(self, top.get("caps", {}), at("caps")),
            "expiry": self.expiry(top.get("expiry", {}), at("expiry")),
            "groups": groups,
        }
        if "stages" in top:      # only when given: files without stages keep their digest
            result["stages"] = rule_options.stages(self, top["stages"], at("stages"), CODE)
        codes = {tier["code"] for tier in levels["tiers"]}
        rules = top.get("rules", [])
        if not isinstance(rules, list):
            self.fail(at("rules"), "rules must be a list")
            rules = []
        seen: dict[str, int] = {}
        result["rules"] = []
        for rule, line in zip(rules, getattr(rules, "lines", [])):
            checked = self.rule(rule, line, groups, codes)
            if checked is None:
                continue
            if checked["id"] in seen:
                self.fail(line, f"rule id {checked['id']!r} is used twice (first on line {seen[checked['id']]})")
            seen[checked["id"]] = line
            result["rules"].append(checked)
        return result

    def levels(self, value, line: int) -> dict:
        if value is None:
            return {"tiers": [{"code": "member", "name": "会员", "growth": 0}], "downgrade_window_months": None}
        levels = self.mapping(value, line, "levels", {"tiers", "downgrade_window_months"})
        if levels is None:
            return {"tiers": [], "downgrade_window_months": None}
        tiers, out, placed = levels.get("tiers"), [], []
        if not isinstance(tiers, list) or not tiers:
            self.fail(levels.line, "levels.tiers must be a non-empty list")
            tiers = []
        for tier, tier_line in zip(tiers, getattr(tiers, "lines", [])):
            tier = self.mapping(tier, tier_line, "a level", {"code", "name", "growth"})
            if tier is None:
                continue
            code, name = tier.get("code"), tier.get("name")
            if not isinstance(code, str) or not CODE.match(code):
                self.fail(tier_line, f"level code {code!r} must be lower-case letters, digits, - or _")
            if not isinstance(name, str) or not name.strip():
                self.fail(tier_line, "a level needs a name")
            growth = self.whole(tier.get("growth"), tier_line, f"level {code}: growth")
            out.append({"code": code, "name": name, "growth": growth})
            placed.append(tier_line)
        if out and out[0]["growth"] not in (0, None):
            self.fail(placed[0], "the first level must start at growth 0 (every member has a level)")
        for i, (lower, upper) in enumerate(zip(out, out[1:])):
            if None not in (lower["growth"], upper["growth"]) and lower["growth"] >= upper["growth"]:
                self.fail(placed[i + 1], f"level {upper['code']} ({upper['growth']}) must need more "
                          f"growth than level {lower['code']} before it ({lower['growth']})")
        codes: dict = {}
        for tier, tier_line in zip(out, placed):
            if not isinstance(tier["code"], str):
                continue
            if tier["code"] in codes:
                self.fail(tier_line, f"level code {tier['code']!r} is used twice (first on line {codes[tier['code']]})")
            codes.setdefault(tier["code"], tier_line)
        window = levels.get("downgrade_window_months")
        if window is not None:
            window = self.whole(window, levels.lines["downgrade_window_months"], "downgrade_window_months", 1)
        return {"tiers": out, "downgrade_window_months": window}

    def expiry(self, value, line: int) -> dict:
        exp = self.mapping(value, line, "expiry", {"policy", "months", "years", "remind_days"}) or {}
        lines = getattr(exp, "lines", {})
        policy = exp.get("policy", "none")
        if policy not in EXPIRY_POLICIES:
            self.fail(lines.get("policy", line), f"expiry.policy must be one of {', '.join(EXPIRY_POLICIES)}")
        months = exp.get("months")
        if policy == "months":
            months = self.whole(months, lines.get("months", line), "expiry.months (with policy: months)", 1)
        years = self.whole(exp.get("years", 0), lines.get("years", line), "expiry.years")
        remind = self.whole(exp.get("remind_days", 7), lines.get("remind_days", line), "expiry.remind_days")
        return {"policy": policy, "months": months, "years": years, "remind_days": remind}

    def groups(self, value, line: int) -> dict:
        groups = self.mapping(value, line, "groups", set(value) if isinstance(value, dict) else set())
        out = {}
        for name, spec in (groups or {}).items():
            spec_line = groups.lines[name]
            if not isinstance(name, str) or not CODE.match(name):
                self.fail(spec_line, f"group name {name!r} must be lower-case letters, digits, - or _")
            spec = self.mapping(spec, spec_line, f"group {name}", {"window"})
            if spec is not None and spec.get("window") not in PERIODS:
                self.fail(spec_line, f"group {name}: window must be one of {', '.join(PERIODS)}")
            out[name] = {"window": spec.get("window") if spec else None}
        return out

    def rule(self, value, line: int, groups: dict, level_codes: set[str]) -> dict | None:
        fields = {"id", "trigger", "title", "points", "growth", "from", "to", "frequency", "enabled",
                  "multipliers", "group", "pending", "growth_pending", "caps"}
        rule = self.mapping(value, line, "a rule", fields)
        if rule is None:
            return None
        at = lambda key: rule.lines.get(key, line)
        code = rule.get("id")
        if not isinstance(code, str) or not CODE.match(code):
            self.fail(at("id"), f"rule id {code!r} must be lower-case letters, digits, - or _")
        name = f"rule {code}"
        trigger = rule.get("trigger")
        if trigger not in TRIGGERS:
            self.fail(at("trigger"), f"{name}: trigger must be one of {', '.join(TRIGGERS)}")
        out = {"id": code, "trigger": trigger, "title": rule.get("title"),
               "enabled": rule.get("enabled", True), "group": rule.get("group")}
        if out["title"] is not None and not isinstance(out["title"], str):
            self.fail(at("title"), f"{name}: title must be text")
        if not isinstance(out["enabled"], bool):
            self.fail(at("enabled"), f"{name}: enabled must be true or false")
        for what in ("points", "growth"):
            out[what] = self.amount(rule.get(what, 0), at(what), f"{name}: {what}", trigger)
        if out["points"] == 0 and out["growth"] == 0:     # (None: already reported as invalid)
            self.fail(line, f"{name}: gives neither points nor growth")
        for end in ("from", "to"):
            when = rule.get(end)
            if when is not None and not (isinstance(when, date) and not hasattr(when, "hour")):
                self.fail(at(end), f"{name}: {end} must be a date like 2026-11-01")
                when = None
            out[end] = when.isoformat() if when else None
        if out["from"] and out["to"] and out["from"] > out["to"]:
            self.fail(at("to"), f"{name}: to ({out['to']}) is before from ({out['from']})")
        out["frequency"] = rule_options.frequency(self, rule.get("frequency", "unlimited"), at("frequency"), name)
        out["multipliers"] = self.multipliers(rule.get("multipliers", {}), at("multipliers"), name, level_codes)
        if out["group"] is not None and out["group"] not in groups:
            self.fail(at("group"), f"{name}: group {out['group']!r} is not defined under groups")
        # Only when given, so rules without them keep their digest (no new versions on reload).
        for key, value in (("pending", rule_options.rule_pending(self, rule, at, name, trigger)),
                           ("caps", rule_options.rule_caps(self, rule, at, name))):
            if value is not None:
                out[key] = value
        return out

    def amount(self, value, line: int, what: str, trigger) -> int | dict:
        if isinstance(value, dict):
            spec = self.mapping(value, line, what, {"per", "award"})
            if trigger not in AMOUNT_TRIGGERS:
                self.fail(line, f"{what}: per-amount awards need an amount; only {', '.join(AMOUNT_TRIGGERS)} has one")
            per = _decimal(spec.get("per"))
            if per is None or per <= 0 or per != per.quantize(Decimal("0.01")):
                self.fail(line, f"{what}: per must be an amount of yuan > 0 (at most 2 decimals)")
                per = Decimal(1)
            award = self.whole(spec.get("award"), line, f"{what}: award", 1)
            return {"per_fen": int(per * 100), "award": award}
        return self.whole(value, line, what)

    def multipliers(self, value, line: int, name: str, level_codes: set[str]) -> dict:
        spec = self.mapping(value, line, f"{name}: multipliers", {"level", "payment"}) or {}
        out = {}
        for kind in ("level", "payment"):
            table = self.mapping(spec.get(kind, {}), spec.lines.get(kind, line) if spec else line,
                                 f"{name}: multipliers.{kind}", set(spec.get(kind, {}) or {})) or {}
            out[kind] = {}
            for key, factor in table.items():
                if kind == "level" and key not in level_codes:
                    self.fail(table.lines[key], f"{name}: multipliers.level: no level {key!r}")
                number = _decimal(factor)
                if number is None or number < 0:
                    self.fail(table.lines[key], f"{name}: multiplier for {key!r} must be a number ≥ 0")
                    continue
                # Payment methods match whatever case the booking system writes them in.
                out[kind][str(key).lower() if kind == "payment" else str(key)] = str(number)
        return out


def _decimal(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
