"""The parts of a rules file that say when, how often and how much: `frequency`, `pending`,
`caps` (per rule and for the member, points and growth) and the lifecycle `stages`. Checked by rules_file._Checker, which
collects every error with its line; each function here returns the normalized data.

    caps:    {day: N?, month: N?, growth: {day: N?, month: N?}?}   points (and growth) per member
             in a China day / month; the same shape inside a rule caps that rule alone
    pending: {days: N} | {until: trip_end}      the rule's points and growth wait; growth may
    growth_pending: {days: N} | {until: trip_end} | now      wait on a schedule of its own
    stages:  [{code, name, CONDITION: N, ...}]  first stage whose conditions all hold
"""
PERIODS = ("day", "week", "month", "year")
PENDING_UNTIL = ("trip_end",)
STAGE_CONDITIONS = {
    "purchases_min": "at least N orders (not fully refunded)",
    "purchases_max": "at most N orders (not fully refunded)",
    "purchased_within_days": "an order paid within the last N days",
    "no_purchase_for_days": "no order paid within the last N days (never counts)",
    "active_within_days": "a message, click, scan or order within the last N days",
    "inactive_for_days": "no message, click, scan or order within the last N days",
    "joined_within_days": "became a member within the last N days",
}


def frequency(check, value, line: int, name: str) -> dict:
    if value in ("once", "unlimited"):
        return {"count": 1 if value == "once" else None, "per": "ever"}
    spec = check.mapping(value, line, f"{name}: frequency (once, unlimited or {{count, per}})", {"count", "per"})
    if spec is None:
        return {"count": None, "per": "ever"}
    count = check.whole(spec.get("count"), line, f"{name}: frequency.count", 1)
    if spec.get("per") not in PERIODS:
        check.fail(line, f"{name}: frequency.per must be one of {', '.join(PERIODS)}")
    return {"count": count, "per": spec.get("per")}


def caps(check, value, line: int, what: str = "caps") -> dict:
    """Points caps as {day, month}; growth caps under `growth` only when given, so files without
    them keep their digests (a reload makes no new versions)."""
    spec = check.mapping(value, line, what, {"day", "month", "growth"}) or {}
    lines = getattr(spec, "lines", {})
    out = _periods(check, spec, lines, what)
    if spec.get("growth") is not None:
        growth = check.mapping(spec["growth"], lines["growth"], f"{what}.growth", {"day", "month"}) or {}
        out["growth"] = _periods(check, growth, getattr(growth, "lines", {}), f"{what}.growth")
    return out


def _periods(check, spec, lines, what) -> dict:
    return {period: None if spec.get(period) is None
            else check.whole(spec[period], lines[period], f"{what}.{period}", 1)
            for period in ("day", "month")}


def rule_caps(check, rule, at, name: str) -> dict | None:
    if rule.get("caps") is None:
        return None
    return caps(check, rule["caps"], at("caps"), f"{name}: caps")


def pending(check, value, line: int, what: str, allow_now: bool = False) -> dict | None:
    """{days: N} (N ≥ 1) or {until: trip_end}; None for "at once"."""
    if value is None or (allow_now and value == "now"):
        return None
    spec = check.mapping(value, line, f"{what} ({{days: N}} or {{until: trip_end}}"
                         + (" or now)" if allow_now else ")"), {"days", "until"})
    if spec is None:
        return None
    if ("days" in spec) == ("until" in spec):
        check.fail(line, f"{what}: give either days or until")
        return None
    if "days" in spec:
        return {"days": check.whole(spec["days"], line, f"{what}.days", 1)}
    if spec["until"] not in PENDING_UNTIL:
        check.fail(line, f"{what}.until must be one of {', '.join(PENDING_UNTIL)}")
        return None
    return {"until": spec["until"]}


def rule_pending(check, rule, at, name: str, trigger) -> dict | None:
    """{"points": WHEN, "growth": WHEN} when anything of the rule waits, else None."""
    points = pending(check, rule.get("pending"), at("pending"), f"{name}: pending")
    growth = points
    if "growth_pending" in rule:
        growth = pending(check, rule["growth_pending"], at("growth_pending"), f"{name}: growth_pending",
                         allow_now=True)
    for when, key in ((points, "pending"), (growth, "growth_pending")):
        if key in rule and when and when.get("until") == "trip_end" and trigger != "purchase":
            check.fail(at(key), f"{name}: {key}: until trip_end needs a purchase rule (orders carry the trip end)")
    if points is None and growth is None:
        return None
    return {"points": points, "growth": growth}


def stages(check, value, line: int, code_pattern) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        check.fail(line, "stages must be a list")
        return []
    out, seen = [], {}
    for stage, stage_line in zip(value, getattr(value, "lines", [])):
        spec = check.mapping(stage, stage_line, "a stage", {"code", "name", *STAGE_CONDITIONS})
        if spec is None:
            continue
        code, name = spec.get("code"), spec.get("name")
        if not isinstance(code, str) or not code_pattern.match(code):
            check.fail(stage_line, f"stage code {code!r} must be lower-case letters, digits, - or _")
        elif code in seen:
            check.fail(stage_line, f"stage code {code!r} is used twice (first on line {seen[code]})")
        seen.setdefault(code, stage_line)
        if not isinstance(name, str) or not name.strip():
            check.fail(stage_line, f"stage {code}: needs a name")
        conditions = {key: check.whole(spec[key], spec.lines[key], f"stage {code}: {key}",
                                       0 if key.startswith("purchases_") else 1)
                      for key in STAGE_CONDITIONS if key in spec}
        out.append({"code": code, "name": name, "when": conditions})
    return out
